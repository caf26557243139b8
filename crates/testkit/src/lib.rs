//! Test support: finds the official OCPP JSON schemas in the pinned PyPI package `ocpp==2.1.0`
//! (installed by `./test` into `.venv`) and validates JSON against them. Tests never carry
//! their own copy of the schemas.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// `v16` or `v201`: the schema folder of an OCPP version in the PyPI package.
pub type VersionDir = &'static str;

/// The `ocpp` package folder: `$OCPP_SCHEMAS_DIR`, or `.venv` at the workspace root.
/// Panics with instructions when neither exists: a schema test must not pass by skipping.
pub fn schema_root() -> PathBuf {
    if let Ok(dir) = std::env::var("OCPP_SCHEMAS_DIR") {
        return PathBuf::from(dir);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if let Ok(entries) = std::fs::read_dir(workspace.join(".venv/lib")) {
        for entry in entries.flatten() {
            let candidate = entry.path().join("site-packages/ocpp");
            if candidate.join("v16/schemas").is_dir() {
                return candidate;
            }
        }
    }
    panic!("official OCPP schemas not found: run ./test (it installs ocpp==2.1.0 into .venv) or set OCPP_SCHEMAS_DIR")
}

/// The schema file name for an action's request or response in `version`.
pub fn schema_file(version: VersionDir, action: &str, response: bool) -> String {
    match (version, response) {
        (_, true) => format!("{action}Response.json"),
        ("v16", false) => format!("{action}.json"),
        (_, false) => format!("{action}Request.json"),
    }
}

pub fn load_schema(version: VersionDir, file: &str) -> Value {
    let path = schema_root().join(version).join("schemas").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

type Cache = Mutex<HashMap<(VersionDir, String), &'static jsonschema::Validator>>;

/// Validates `instance` against the official schema of `action`'s request or response;
/// the error lists every violation.
pub fn validate(version: VersionDir, action: &str, response: bool, instance: &Value) -> Result<(), String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let file = schema_file(version, action, response);
    let validator = {
        let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        *cache.entry((version, file.clone())).or_insert_with(|| {
            let schema = load_schema(version, &file);
            let v = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("compiling {file}: {e}"));
            Box::leak(Box::new(v))
        })
    };
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{file}: {}", errors.join("; ")))
    }
}
