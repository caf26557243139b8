//! Developer tasks. `cargo xtask codegen` turns the official OCPP JSON schemas (shipped in the
//! pinned PyPI package `ocpp==2.1.0`) into the typed messages of the `ocpp` crate;
//! `cargo xtask codegen --check` fails when the committed code differs from what the schemas give.

mod codegen;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => {
            let check = args.iter().any(|a| a == "--check");
            let root = workspace_root();
            let schemas = schema_root(&root)?;
            let mut stale = Vec::new();
            for version in codegen::VERSIONS {
                let code = codegen::generate(version, &schemas.join(version.dir).join("schemas"))?;
                let target = root.join(version.target);
                let current = std::fs::read_to_string(&target).unwrap_or_default();
                if current == code {
                    continue;
                }
                if check {
                    stale.push(target.display().to_string());
                } else {
                    std::fs::write(&target, code).with_context(|| format!("writing {}", target.display()))?;
                    println!("wrote {}", target.display());
                }
            }
            if !stale.is_empty() {
                bail!("generated code is stale, run `cargo xtask codegen`: {}", stale.join(", "));
            }
            Ok(())
        }
        _ => bail!("usage: cargo xtask codegen [--check]"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// The installed `ocpp` Python package: `$OCPP_SCHEMAS_DIR`, or the test venv's copy.
fn schema_root(root: &Path) -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("OCPP_SCHEMAS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let lib = root.join(".venv/lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for entry in entries.flatten() {
            let candidate = entry.path().join("site-packages/ocpp");
            if candidate.join("v16/schemas").is_dir() {
                return Ok(candidate);
            }
        }
    }
    bail!("OCPP schemas not found: set OCPP_SCHEMAS_DIR or run ./test once to create .venv")
}
