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

/// Builds a valid instance of an official schema: `full` includes every optional property (to
/// a depth of six), otherwise only the required ones. Enums take their middle value, strings
/// up to 40 non-ASCII characters within their maxLength, date-times and URIs fixed valid values.
pub fn sample(schema: &Value, full: bool) -> Value {
    sample_at(schema, schema, full, 0)
}

fn sample_at(schema: &Value, root: &Value, full: bool, depth: usize) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/definitions/");
        return sample_at(&root["definitions"][name], root, full, depth);
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values[values.len() / 2].clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if required.contains(&name.as_str()) || (full && depth < 6) {
                        out.insert(name.clone(), sample_at(prop, root, full, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
        Some("array") => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1);
            Value::Array((0..n).map(|_| sample_at(&schema["items"], root, full, depth + 1)).collect())
        }
        Some("string") => {
            if schema.get("format").and_then(Value::as_str) == Some("date-time") {
                return serde_json::json!("2026-11-26T12:34:56.789Z");
            }
            if schema.get("format").and_then(Value::as_str) == Some("uri") {
                return serde_json::json!("ftp://files.example.com/up");
            }
            let max = schema.get("maxLength").and_then(Value::as_u64).unwrap_or(12) as usize;
            serde_json::json!("ßx".repeat(max).chars().take(max.min(40)).collect::<String>())
        }
        Some("integer") => {
            let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            serde_json::json!(min.max(1))
        }
        Some("number") => {
            let min = schema.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
            // An integral value: the jsonschema crate checks `multipleOf: 0.1` in binary floating point.
            serde_json::json!(min.max(0.0) + 16.0)
        }
        Some("boolean") => serde_json::json!(true),
        _ => serde_json::json!({"anything": [1, "two"]}),
    }
}
