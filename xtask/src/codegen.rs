//! Schema-to-Rust generator for OCPP messages. The schemas are draft-04 (1.6) and draft-06
//! (2.0.1) JSON schemas that use a small subset of JSON Schema: objects with `properties`,
//! `required` and `additionalProperties`, string enums, arrays, `$ref` to `definitions`, and the
//! constraints `maxLength`, `minItems`, `maxItems`, `minimum`, `maximum`, `multipleOf`.
//! Anything outside that subset stops the generator rather than being silently mistranslated.

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub struct Version {
    pub dir: &'static str,
    pub target: &'static str,
    /// Schema file name for an action's request: `{action}{suffix}.json`.
    request_suffix: &'static str,
    /// Actions a station sends (the rest are sent by the CSMS); DataTransfer goes both ways.
    station_initiated: &'static [&'static str],
}

pub const VERSIONS: &[Version] = &[
    Version {
        dir: "v16",
        target: "crates/ocpp/src/v16/messages.rs",
        request_suffix: "",
        station_initiated: &[
            "Authorize",
            "BootNotification",
            "DataTransfer",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
            "Heartbeat",
            "LogStatusNotification",
            "MeterValues",
            "SecurityEventNotification",
            "SignCertificate",
            "SignedFirmwareStatusNotification",
            "StartTransaction",
            "StatusNotification",
            "StopTransaction",
        ],
    },
    Version {
        dir: "v201",
        target: "crates/ocpp/src/v201/messages.rs",
        request_suffix: "Request",
        station_initiated: &[
            "Authorize",
            "BootNotification",
            "ClearedChargingLimit",
            "DataTransfer",
            "FirmwareStatusNotification",
            "Get15118EVCertificate",
            "GetCertificateStatus",
            "Heartbeat",
            "LogStatusNotification",
            "MeterValues",
            "NotifyChargingLimit",
            "NotifyCustomerInformation",
            "NotifyDisplayMessages",
            "NotifyEVChargingNeeds",
            "NotifyEVChargingSchedule",
            "NotifyEvent",
            "NotifyMonitoringReport",
            "NotifyReport",
            "PublishFirmwareStatusNotification",
            "ReportChargingProfiles",
            "ReservationStatusUpdate",
            "SecurityEventNotification",
            "SignCertificate",
            "StatusNotification",
            "TransactionEvent",
        ],
    },
];

#[derive(Clone, PartialEq, Debug)]
enum Ty {
    /// `uri`: the schema's `format: uri`, checked as RFC 3986 says.
    String {
        max_len: Option<u64>,
        uri: bool,
    },
    DateTime,
    Integer {
        min: Option<f64>,
        max: Option<f64>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
        multiple_of: Option<f64>,
    },
    Bool,
    Any,
    Named(String),
    Array {
        item: Box<Ty>,
        min_items: Option<u64>,
        max_items: Option<u64>,
    },
}

#[derive(Clone, PartialEq, Debug)]
struct Field {
    json: String,
    ty: Ty,
    required: bool,
}

#[derive(Clone, PartialEq, Debug)]
enum Def {
    Struct { fields: Vec<Field>, open: bool },
    Enum(Vec<String>),
}

struct Gen<'a> {
    defs: BTreeMap<String, Def>,
    /// The file being translated, used to disambiguate clashing names.
    message: String,
    root: &'a Value,
}

pub fn generate(version: &Version, dir: &Path) -> Result<String> {
    let mut actions = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix("Response.json") {
            actions.push(stem.to_string());
        }
    }
    actions.sort();
    let mut defs = BTreeMap::new();
    for action in &actions {
        for (file, type_name) in [
            (format!("{action}{}.json", version.request_suffix), format!("{action}Request")),
            (format!("{action}Response.json"), format!("{action}Response")),
        ] {
            let path = dir.join(&file);
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let schema: Value = serde_json::from_str(&text)?;
            let mut gen = Gen { defs, message: type_name.clone(), root: &schema };
            gen.object(&type_name, &schema, false).with_context(|| format!("translating {file}"))?;
            defs = gen.defs;
        }
    }
    rustfmt(&render(version, &actions, &defs))
}

/// Formats generated code the way `cargo fmt` would, so that `--check` compares like with like.
fn rustfmt(code: &str) -> Result<String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let config = crate::workspace_root().join("rustfmt.toml");
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout", "--config-path"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("running rustfmt")?;
    child.stdin.take().context("rustfmt stdin")?.write_all(code.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("rustfmt rejected the generated code");
    }
    Ok(String::from_utf8(out.stdout)?)
}

impl Gen<'_> {
    /// Registers an object schema under `name` (or an existing identical definition) and
    /// returns the name used.
    fn object(&mut self, name: &str, schema: &Value, inline: bool) -> Result<String> {
        let props = schema.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let open = schema.get("additionalProperties") != Some(&Value::Bool(false));
        let mut fields = Vec::new();
        for (json, prop) in props.unwrap_or(&Map::new()) {
            let ty = self.ty(&owner_prefix(name), json, prop).with_context(|| format!("property {json}"))?;
            fields.push(Field { json: json.clone(), ty, required: required.contains(&json.as_str()) });
        }
        Ok(self.register(name, Def::Struct { fields, open }, inline))
    }

    fn register(&mut self, name: &str, def: Def, inline: bool) -> String {
        // An identical inline object already generated under another name is reused: the 1.6
        // schemas repeat inline objects (IdTagInfo, MeterValue, ChargingProfile) in several files.
        if inline && matches!(def, Def::Struct { .. }) {
            if let Some((existing, _)) = self.defs.iter().find(|(_, d)| **d == def) {
                return existing.clone();
            }
        }
        let existing = self.defs.get(name).cloned();
        match (existing, def) {
            (None, def) => {
                self.defs.insert(name.to_string(), def);
                name.to_string()
            }
            (Some(old), def) if old == def => name.to_string(),
            // Errata added enum values to some schema files only (1.6 `Hertz` is in
            // MeterValues but not StopTransaction): same-named enums where one extends the
            // other are merged, so a value valid in one message is accepted in its sibling.
            (Some(Def::Enum(old)), Def::Enum(new)) if superset(&old, &new) || superset(&new, &old) => {
                let mut merged = old;
                for v in new {
                    if !merged.contains(&v) {
                        merged.push(v);
                    }
                }
                self.defs.insert(name.to_string(), Def::Enum(merged));
                name.to_string()
            }
            (Some(_), def) => {
                let qualified = format!("{}{}", self.message, name);
                self.defs.insert(qualified.clone(), def);
                qualified
            }
        }
    }

    /// The type of property `prop_name` of the struct named `owner`.
    fn ty(&mut self, owner: &str, prop_name: &str, s: &Value) -> Result<Ty> {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let def_name = r.strip_prefix("#/definitions/").context("only local $ref")?;
            let target = self
                .root
                .get("definitions")
                .and_then(|d| d.get(def_name))
                .with_context(|| format!("missing definition {def_name}"))?
                .clone();
            let rust_name = def_name.strip_suffix("Type").unwrap_or(def_name).to_string();
            return self.named(&rust_name, &target, false);
        }
        let Some(kind) = s.get("type") else {
            return Ok(Ty::Any);
        };
        Ok(match kind.as_str() {
            Some("string") if s.get("enum").is_some() => {
                self.named(&format!("{owner}{}", pascal(prop_name)), s, true)?
            }
            Some("string") => match s.get("format").and_then(Value::as_str) {
                Some("date-time") => Ty::DateTime,
                format => {
                    Ty::String { max_len: s.get("maxLength").and_then(Value::as_u64), uri: format == Some("uri") }
                }
            },
            Some("integer") => Ty::Integer { min: num(s, "minimum"), max: num(s, "maximum") },
            Some("number") => {
                Ty::Number { min: num(s, "minimum"), max: num(s, "maximum"), multiple_of: num(s, "multipleOf") }
            }
            Some("boolean") => Ty::Bool,
            Some("object") => self.named(&object_name(prop_name), s, true)?,
            Some("array") => {
                let items = s.get("items").context("array without items")?;
                let item_name = if items.get("type").and_then(Value::as_str) == Some("object") {
                    singular(prop_name)
                } else {
                    prop_name.to_string()
                };
                Ty::Array {
                    item: Box::new(self.ty(owner, &item_name, items)?),
                    min_items: s.get("minItems").and_then(Value::as_u64),
                    max_items: s.get("maxItems").and_then(Value::as_u64),
                }
            }
            other => bail!("unsupported type {other:?}"),
        })
    }

    fn named(&mut self, name: &str, s: &Value, inline: bool) -> Result<Ty> {
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            let values = values.iter().filter_map(Value::as_str).map(str::to_string).collect();
            return Ok(Ty::Named(self.register(name, Def::Enum(values), inline)));
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") => Ok(Ty::Named(self.object(name, s, inline)?)),
            _ => self.ty(name, name, s),
        }
    }
}

/// The type name of an inline object. 1.6 SetChargingProfile calls its ChargingProfile
/// `csChargingProfiles`; naming it like RemoteStartTransaction's lets the two share one type.
fn object_name(prop_name: &str) -> String {
    match prop_name {
        "csChargingProfiles" => "ChargingProfile".to_string(),
        _ => pascal(prop_name),
    }
}

fn superset(a: &[String], b: &[String]) -> bool {
    b.iter().all(|v| a.contains(v))
}

fn num(s: &Value, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

/// Inline enums of 1.6 are named after the struct that holds them; a top-level request name
/// loses its `Request`, so `StatusNotificationRequest.status` is `StatusNotificationStatus`.
fn owner_prefix(message: &str) -> String {
    message.strip_suffix("Request").unwrap_or(message).to_string()
}

fn singular(name: &str) -> String {
    name.strip_suffix('s').unwrap_or(name).to_string()
}

fn pascal(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    match out.as_str() {
        "type" => "r#type".into(),
        _ => out,
    }
}

fn variant(value: &str) -> String {
    let p = pascal(value);
    if p.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{p}")
    } else {
        p
    }
}

fn rust_ty(ty: &Ty) -> String {
    match ty {
        Ty::String { .. } => "String".into(),
        Ty::DateTime => "DateTime".into(),
        Ty::Integer { .. } => "i64".into(),
        Ty::Number { .. } => "f64".into(),
        Ty::Bool => "bool".into(),
        Ty::Any => "serde_json::Value".into(),
        Ty::Named(n) => n.clone(),
        Ty::Array { item, .. } => format!("Vec<{}>", rust_ty(item)),
    }
}

/// Whether a value of this type (or its items) is a `format: uri` string.
fn has_uri(ty: &Ty) -> bool {
    match ty {
        Ty::String { uri, .. } => *uri,
        Ty::Array { item, .. } => has_uri(item),
        _ => false,
    }
}

fn lit(x: f64) -> String {
    format!("{x:?}")
}

/// The checks serde cannot express, for one value at `expr` (a reference).
fn checks(ty: &Ty, expr: &str, json: &str, out: &mut String) {
    match ty {
        Ty::String { max_len, uri } => {
            if let Some(max) = max_len {
                let _ = writeln!(out, "check_max_len({expr}, {max}, \"{json}\")?;");
            }
            if *uri {
                let _ = writeln!(out, "check_uri({expr}, \"{json}\")?;");
            }
        }
        Ty::Integer { min, max } if min.is_some() || max.is_some() => {
            let _ =
                writeln!(out, "        check_range(*{expr} as f64, {}, {}, None, \"{json}\")?;", opt(min), opt(max));
        }
        Ty::Number { min, max, multiple_of } if min.is_some() || max.is_some() || multiple_of.is_some() => {
            let _ = writeln!(
                out,
                "        check_range(*{expr}, {}, {}, {}, \"{json}\")?;",
                opt(min),
                opt(max),
                opt(multiple_of)
            );
        }
        Ty::Named(_) => {
            let _ = writeln!(out, "        {expr}.validate().map_err(|e| e.within(\"{json}\"))?;");
        }
        Ty::Array { item, min_items, max_items } => {
            if min_items.is_some() || max_items.is_some() {
                let to_opt = |v: &Option<u64>| match v {
                    Some(n) => format!("Some({n})"),
                    None => "None".into(),
                };
                let _ = writeln!(
                    out,
                    "        check_items({expr}.len(), {}, {}, \"{json}\")?;",
                    to_opt(min_items),
                    to_opt(max_items)
                );
            }
            let mut inner = String::new();
            checks(item, "item", json, &mut inner);
            if !inner.is_empty() {
                let _ = writeln!(out, "        for item in {expr}.iter() {{");
                out.push_str(&inner);
                let _ = writeln!(out, "        }}");
            }
        }
        _ => {}
    }
}

fn opt(v: &Option<f64>) -> String {
    match v {
        Some(x) => format!("Some({})", lit(*x)),
        None => "None".into(),
    }
}

/// Payloads with a hand-written decoder for their common form (`crates/ocpp/src/fast.rs`), by
/// version directory, kind and action; serde decodes whatever such a decoder declines.
const FAST_DECODERS: &[(&str, &str, &str, &str)] =
    &[("v16", "Request", "MeterValues", "crate::fast::v16_meter_values")];

fn render(version: &Version, actions: &[String], defs: &BTreeMap<String, Def>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! OCPP {} messages, generated by `cargo xtask codegen` from the official JSON schemas in\n\
         //! the PyPI package `ocpp==2.1.0` (`ocpp/{}/schemas`). Do not edit by hand.\n",
        if version.dir == "v16" { "1.6J" } else { "2.0.1" },
        version.dir
    );
    out.push_str("#![allow(clippy::large_enum_variant, clippy::too_many_lines)]\n\n");
    // `check_uri` only where a schema has a `format: uri` property (1.6 has three, 2.0.1 none).
    let uses_uri =
        defs.values().any(|def| matches!(def, Def::Struct { fields, .. } if fields.iter().any(|f| has_uri(&f.ty))));
    out.push_str(if uses_uri {
        "use crate::common::{check_items, check_max_len, check_range, check_uri, DateTime, Initiator, Validate, Violation};\n"
    } else {
        "use crate::common::{check_items, check_max_len, check_range, DateTime, Initiator, Validate, Violation};\n"
    });
    out.push_str("use serde::{Deserialize, Serialize};\n\n");

    for (name, def) in defs {
        match def {
            Def::Enum(values) => {
                out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]\n");
                let _ = writeln!(out, "pub enum {name} {{");
                for v in values {
                    let _ = writeln!(out, "    #[serde(rename = \"{v}\")]\n    {},", variant(v));
                }
                out.push_str("}\n\n");
                let _ = writeln!(out, "impl {name} {{\n    pub const ALL: &'static [{name}] = &[");
                for v in values {
                    let _ = writeln!(out, "        {name}::{},", variant(v));
                }
                out.push_str("    ];\n\n    /// The value as it is spelled on the wire.\n    pub fn as_str(self) -> &'static str {\n        match self {\n");
                for v in values {
                    let _ = writeln!(out, "            {name}::{} => \"{v}\",", variant(v));
                }
                out.push_str("        }\n    }\n}\n\n");
                let _ = writeln!(
                    out,
                    "impl Validate for {name} {{\n    fn validate(&self) -> Result<(), Violation> {{\n        Ok(())\n    }}\n}}\n"
                );
            }
            Def::Struct { fields, open } => {
                out.push_str("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n");
                // Closed objects (`additionalProperties: false`) refuse unknown properties; open
                // ones (`customData`) keep vendor properties in `extra`.
                if !*open {
                    out.push_str("#[serde(deny_unknown_fields)]\n");
                }
                let _ = writeln!(out, "pub struct {name} {{");
                for f in fields {
                    let ty = rust_ty(&f.ty);
                    let _ = writeln!(out, "    #[serde(rename = \"{}\"", f.json);
                    if f.required {
                        out.push_str(")]\n");
                        let _ = writeln!(out, "    pub {}: {ty},", snake(&f.json));
                    } else {
                        out.push_str(", default, skip_serializing_if = \"Option::is_none\")]\n");
                        let _ = writeln!(out, "    pub {}: Option<{ty}>,", snake(&f.json));
                    }
                }
                if *open {
                    out.push_str("    #[serde(flatten)]\n    pub extra: serde_json::Map<String, serde_json::Value>,\n");
                }
                out.push_str("}\n\n");
                let mut body = String::new();
                for f in fields {
                    let field = format!("self.{}", snake(&f.json));
                    let mut inner = String::new();
                    checks(&f.ty, "value", &f.json, &mut inner);
                    if !inner.is_empty() {
                        if f.required {
                            let _ = writeln!(body, "{{ let value = &{field};");
                        } else {
                            let _ = writeln!(body, "if let Some(value) = &{field} {{");
                        }
                        body.push_str(&inner);
                        body.push_str("}\n");
                    }
                }
                let _ =
                    writeln!(out, "impl Validate for {name} {{\n    fn validate(&self) -> Result<(), Violation> {{");
                out.push_str(&body);
                out.push_str("        Ok(())\n    }\n}\n\n");
            }
        }
    }

    // The action catalogue and the two payload enums the frame codec dispatches on.
    out.push_str("/// Every action of this OCPP version.\n");
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Action {\n");
    for a in actions {
        let _ = writeln!(out, "    {a},");
    }
    out.push_str("}\n\nimpl Action {\n    pub const ALL: &'static [Action] = &[\n");
    for a in actions {
        let _ = writeln!(out, "        Action::{a},");
    }
    out.push_str("    ];\n\n    /// The action name as it appears in a CALL frame.\n    pub fn as_str(self) -> &'static str {\n        match self {\n");
    for a in actions {
        let _ = writeln!(out, "            Action::{a} => \"{a}\",");
    }
    out.push_str("        }\n    }\n\n    /// Looks an action up by its case-sensitive name.\n    pub fn from_name(name: &str) -> Option<Action> {\n        match name {\n");
    for a in actions {
        let _ = writeln!(out, "            \"{a}\" => Some(Action::{a}),");
    }
    out.push_str("            _ => None,\n        }\n    }\n\n    /// Which side sends this action's CALL.\n    pub fn initiator(self) -> Initiator {\n        match self {\n");
    for a in actions {
        let who = if a == "DataTransfer" {
            "Both"
        } else if version.station_initiated.contains(&a.as_str()) {
            "Station"
        } else {
            "Csms"
        };
        let _ = writeln!(out, "            Action::{a} => Initiator::{who},");
    }
    out.push_str("        }\n    }\n}\n\n");

    for (kind, suffix) in [("Request", "Request"), ("Response", "Response")] {
        let _ = writeln!(out, "/// A {} payload of any action.", kind.to_lowercase());
        out.push_str("#[derive(Debug, Clone, PartialEq)]\n");
        let _ = writeln!(out, "pub enum {kind} {{");
        for a in actions {
            let _ = writeln!(out, "    {a}({a}{suffix}),");
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl {kind} {{\n    pub fn action(&self) -> Action {{\n        match self {{");
        for a in actions {
            let _ = writeln!(out, "            {kind}::{a}(_) => Action::{a},");
        }
        out.push_str("        }\n    }\n\n    /// Strictly decodes the payload of `action`: serde checks shape, types and enums (for a\n    /// payload `crate::fast` knows, after its decoder, which gives what serde would or\n    /// declines), then the schema constraints serde cannot express are checked.\n");
        out.push_str("    pub fn decode(action: Action, payload: &str) -> Result<Self, crate::DecodeError> {\n        Ok(match action {\n");
        for a in actions {
            let fast =
                FAST_DECODERS.iter().find(|(dir, k, action, _)| *dir == version.dir && *k == kind && action == a);
            let _ = match fast {
                Some((.., decoder)) => writeln!(
                    out,
                    "            Action::{a} => {kind}::{a}(crate::common::decode_payload_fast(payload, {decoder})?),"
                ),
                None => {
                    writeln!(out, "            Action::{a} => {kind}::{a}(crate::common::decode_payload(payload)?),")
                }
            };
        }
        out.push_str("        })\n    }\n\n    /// Serialises the payload as compact JSON.\n    pub fn to_json(&self) -> Result<String, serde_json::Error> {\n        match self {\n");
        for a in actions {
            let _ = writeln!(out, "            {kind}::{a}(p) => crate::common::encode_payload(p),");
        }
        out.push_str("        }\n    }\n\n    /// Checks the schema constraints of an already-typed payload (for outgoing messages).\n    pub fn validate(&self) -> Result<(), Violation> {\n        match self {\n");
        for a in actions {
            let _ = writeln!(out, "            {kind}::{a}(p) => p.validate(),");
        }
        out.push_str("        }\n    }\n}\n\n");
        for a in actions {
            let _ = writeln!(
                out,
                "impl From<{a}{suffix}> for {kind} {{\n    fn from(p: {a}{suffix}) -> Self {{\n        {kind}::{a}(p)\n    }}\n}}\n"
            );
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}
