//! The API reference for people: one HTML page, served at `/api/v1/docs` without a token, that
//! Ström renders itself from the same OpenAPI document a client generator reads (`document()`),
//! so the two cannot say different things. It is static HTML with a little inline CSS: no
//! script, nothing fetched from elsewhere, readable offline and under a strict
//! Content-Security-Policy.

use serde_json::{Map, Value};
use std::fmt::Write;

/// The Content-Security-Policy the page is served with: it needs nothing but its own styles.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:72rem;margin:0 auto;padding:1rem 2rem;\
line-height:1.45;color:#1b1f24}code,pre{font-family:ui-monospace,monospace;font-size:.9em}\
pre{background:#f4f5f7;padding:.6rem;overflow-x:auto;border-radius:4px}\
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{border:1px solid #d5d8dc;padding:.3rem .5rem;\
text-align:left;vertical-align:top}th{background:#f4f5f7}article{border-top:1px solid #d5d8dc;margin-top:1.5rem}\
.method{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}\
.get{color:#0a6b2d}.post{color:#8a5a00}.put{color:#1f4fa8}.delete{color:#a11d1d}\
.muted{color:#5b636b}nav ul{columns:2}";

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `text` for HTML text or a quoted attribute value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The name of the component schema `schema` refers to, if it is a reference.
fn reference_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.rsplit('/').next()
}

/// A schema's type in a line: a link for a reference, `array of …`, alternatives joined by
/// "or", a plain type with its format.
fn type_of(schema: &Value) -> String {
    if let Some(name) = reference_name(schema) {
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    if let Some(options) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
        return options.iter().map(type_of).collect::<Vec<_>>().join(" or ");
    }
    let mut text = match schema.get("type").and_then(Value::as_str) {
        Some("array") => format!("array of {}", schema.get("items").map(type_of).unwrap_or_else(|| "any".into())),
        Some(kind) => escape(kind),
        None => "any JSON".to_string(),
    };
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(text, " ({})", escape(format));
    }
    text
}

/// What a schema allows beyond its type: enum, bounds, pattern, default, nullable, …
fn constraints(schema: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let listed: Vec<String> = values.iter().map(|v| format!("<code>{}</code>", escape(&v.to_string()))).collect();
        parts.push(format!("one of {}", listed.join(", ")));
    }
    for (key, label) in [
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minLength", "length at least"),
        ("maxLength", "length at most"),
        ("minProperties", "properties at least"),
        ("default", "default"),
    ] {
        if let Some(value) = schema.get(key) {
            parts.push(format!("{label} <code>{}</code>", escape(&value.to_string())));
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        parts.push(format!("matches <code>{}</code>", escape(pattern)));
    }
    if schema.get("nullable") == Some(&Value::Bool(true)) {
        parts.push("may be null".into());
    }
    if schema.get("writeOnly") == Some(&Value::Bool(true)) {
        parts.push("write-only (never answered)".into());
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) && schema.get("properties").is_some() {
        parts.push("no other properties".into());
    }
    parts.join("; ")
}

fn description(schema: &Value) -> String {
    schema.get("description").and_then(Value::as_str).map(escape).unwrap_or_default()
}

/// A schema in full: its type and constraints, and a table of its properties if it has any
/// (those of an array's inline item too).
fn schema_block(out: &mut String, schema: &Value) {
    let limits = constraints(schema);
    let _ = write!(out, "<p>Type: {}", type_of(schema));
    if !limits.is_empty() {
        let _ = write!(out, "; {limits}");
    }
    let text = description(schema);
    if !text.is_empty() {
        let _ = write!(out, ". {text}");
    }
    out.push_str("</p>\n");
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    out.push_str(
        "<table><tr><th>Property</th><th>Type</th><th>Required</th><th>Constraints</th><th>Description</th></tr>\n",
    );
    for (name, property) in properties {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            type_of(property),
            if required.contains(&name.as_str()) { "yes" } else { "no" },
            constraints(property),
            description(property),
        );
    }
    out.push_str("</table>\n");
}

fn example_block(out: &mut String, example: Option<&Value>) {
    let Some(example) = example else { return };
    let text = match example {
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let _ = writeln!(out, "<p class=\"muted\">Example:</p><pre>{}</pre>", escape(&text));
}

fn parameters_block(out: &mut String, parameters: &[Value]) {
    if parameters.is_empty() {
        return;
    }
    out.push_str("<h4>Parameters</h4>\n<table><tr><th>Name</th><th>In</th><th>Type</th><th>Required</th><th>Constraints</th><th>Description</th></tr>\n");
    for parameter in parameters {
        let schema = &parameter["schema"];
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(parameter["name"].as_str().unwrap_or_default()),
            escape(parameter["in"].as_str().unwrap_or_default()),
            type_of(schema),
            if parameter["required"] == Value::Bool(true) { "yes" } else { "no" },
            constraints(schema),
            description(parameter),
        );
    }
    out.push_str("</table>\n");
}

fn responses_block(out: &mut String, responses: &Map<String, Value>) {
    out.push_str(
        "<h4>Responses</h4>\n<table><tr><th>Status</th><th>Description</th><th>Body</th><th>Headers</th></tr>\n",
    );
    for (code, response) in responses {
        let body = response
            .get("content")
            .and_then(Value::as_object)
            .map(|content| {
                content
                    .iter()
                    .map(|(media, m)| format!("<code>{}</code>: {}", escape(media), type_of(&m["schema"])))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_else(|| "none".into());
        let headers = response
            .get("headers")
            .and_then(Value::as_object)
            .map(|headers| {
                headers.iter().map(|(name, h)| format!("<code>{}</code>: {}", escape(name), description(h))).collect()
            })
            .unwrap_or_else(Vec::new)
            .join("<br>");
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{body}</td><td>{headers}</td></tr>",
            escape(code),
            description(response),
        );
    }
    out.push_str("</table>\n");
    for (code, response) in responses.iter().filter(|(code, _)| code.starts_with('2')) {
        for (media, content) in response.get("content").and_then(Value::as_object).into_iter().flatten() {
            if let Some(example) = content.get("example") {
                let _ = write!(out, "<p class=\"muted\">{} ({}):</p>", escape(code), escape(media));
                example_block(out, Some(example));
            }
        }
    }
}

fn operation_block(out: &mut String, path: &str, method: &str, operation: &Value) {
    let id = operation["operationId"].as_str().unwrap_or_default();
    let _ = writeln!(
        out,
        "<article id=\"op-{0}\"><h3><span class=\"method {1}\">{1}</span> <code>{2}</code></h3>\n\
         <p class=\"muted\">operationId <code>{0}</code></p>\n<p>{3}</p>\n<p>{4}</p>",
        escape(id),
        escape(method),
        escape(path),
        escape(operation["summary"].as_str().unwrap_or_default()),
        description(operation),
    );
    parameters_block(out, operation["parameters"].as_array().map(Vec::as_slice).unwrap_or_default());
    if let Some(body) = operation.get("requestBody") {
        for (media, content) in body["content"].as_object().into_iter().flatten() {
            let _ = writeln!(out, "<h4>Request body (<code>{}</code>)</h4>", escape(media));
            schema_block(out, &content["schema"]);
            example_block(out, content.get("example"));
        }
    }
    if let Some(responses) = operation["responses"].as_object() {
        responses_block(out, responses);
    }
    out.push_str("</article>\n");
}

/// The operations of the document as (tag, path, method, operation), in the order of the
/// document's tags, then of its paths.
fn operations(doc: &Value) -> Vec<(String, &str, &str, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let tag = operation["tags"][0].as_str().unwrap_or("other").to_string();
                found.push((tag, path.as_str(), method, operation));
            }
        }
    }
    let order: Vec<&str> = doc["tags"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    found.sort_by_key(|(tag, ..)| order.iter().position(|t| t == tag).unwrap_or(order.len()));
    found
}

/// The reference page of `doc`.
pub(crate) fn page(doc: &Value) -> String {
    let info = &doc["info"];
    let title = escape(info["title"].as_str().unwrap_or("API"));
    let mut out = String::with_capacity(256 * 1024);
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} reference</title><style>{STYLE}</style></head><body>\n\
         <h1>{title} <span class=\"muted\">{}</span></h1>\n<p>{}</p>\n\
         <p>The same document for programs: <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a> \
         (OpenAPI {}). Authentication: <code>Authorization: Bearer &lt;token&gt;</code> (<code>strom token create</code>), \
         unless an operation says it needs no token.</p>",
        escape(info["version"].as_str().unwrap_or_default()),
        escape(info["description"].as_str().unwrap_or_default()),
        escape(doc["openapi"].as_str().unwrap_or_default()),
    );
    let operations = operations(doc);
    let tags: Vec<(&str, &str)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["name"].as_str().unwrap_or_default(), t["description"].as_str().unwrap_or_default()))
        .collect();
    out.push_str("<nav><h2>Contents</h2><ul>\n");
    for (name, _) in &tags {
        let _ = writeln!(out, "<li><a href=\"#tag-{0}\">{0}</a></li>", escape(name));
    }
    out.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav>\n");
    for (name, text) in &tags {
        let _ = writeln!(out, "<section id=\"tag-{0}\"><h2>{0}</h2>\n<p>{1}</p>\n<ul>", escape(name), escape(text));
        let in_tag: Vec<_> = operations.iter().filter(|(tag, ..)| tag == name).collect();
        for (_, path, method, operation) in &in_tag {
            let id = escape(operation["operationId"].as_str().unwrap_or_default());
            let _ = writeln!(
                out,
                "<li><a href=\"#op-{id}\"><span class=\"method {0}\">{0}</span> <code>{1}</code></a></li>",
                escape(method),
                escape(path)
            );
        }
        out.push_str("</ul>\n");
        for (_, path, method, operation) in in_tag {
            operation_block(&mut out, path, method, operation);
        }
        out.push_str("</section>\n");
    }
    out.push_str("<section id=\"schemas\"><h2>Schemas</h2>\n");
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        let _ = writeln!(out, "<article id=\"schema-{0}\"><h3>{0}</h3>", escape(name));
        schema_block(&mut out, schema);
        example_block(&mut out, schema.get("example"));
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_from_the_document_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let doc = json!({"openapi": "3.0.3", "info": {"title": "T<script>", "version": "1", "description": "d"},
            "tags": [{"name": "t", "description": "<b>"}],
            "paths": {"/p/{id}": {"get": {"operationId": "op<1>", "summary": "s&", "tags": ["t"],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^<a>$"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/X"}, "example": {"a": "</pre>"}}}}}}}},
            "components": {"schemas": {"X": {"type": "object", "properties": {"a": {"type": "string", "enum": ["<"]}}}}}});
        let page = page(&doc);
        assert!(!page.contains("<script>") && !page.contains("<b>") && !page.contains("op<1>"), "{page}");
        assert!(page.contains("T&lt;script&gt;") && page.contains("id=\"op-op&lt;1&gt;\""), "{page}");
        assert!(page.contains("matches <code>^&lt;a&gt;$</code>") && page.contains("&lt;/pre&gt;"), "{page}");
        assert!(page.contains("<a href=\"#schema-X\">X</a>"), "{page}");
    }

    #[test]
    fn every_operation_and_schema_of_the_document_is_on_the_page() {
        let doc = super::super::document();
        let page = page(&doc);
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("operations") {
                let id = operation["operationId"].as_str().expect("an id");
                let tag = operation["tags"][0].as_str().expect("a tag");
                assert!(page.contains(&format!("<article id=\"op-{id}\">")), "{id}");
                assert!(page.contains(&format!("<section id=\"tag-{tag}\">")), "{tag}");
                assert!(page.contains(&format!(">{method}</span> <code>{}</code>", escape(path))), "{method} {path}");
                operations += 1;
            }
        }
        assert!(operations >= 40, "{operations}");
        for name in doc["components"]["schemas"].as_object().expect("schemas").keys() {
            assert!(page.contains(&format!("<article id=\"schema-{name}\">")), "{name}");
        }
        assert!(!page.contains("<script") && !page.contains("http://") && !page.contains("https://cdn"));
    }
}
