//! The OpenAPI 3 description of the operator API, served at `/api/v1/openapi.json`. It is
//! built here, beside the routes, and a test requests every path it lists from a running
//! server, so the document cannot name an endpoint that does not exist.

use serde_json::{json, Map, Value};

fn string() -> Value {
    json!({"type": "string"})
}

fn integer() -> Value {
    json!({"type": "integer"})
}

fn object(properties: &[(&str, Value)], required: &[&str]) -> Value {
    let props: Map<String, Value> = properties.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// An object of optional properties, at least one of them given.
fn any_of_object(properties: &[(&str, Value)]) -> Value {
    let props: Map<String, Value> = properties.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    json!({"type": "object", "properties": props, "minProperties": 1, "additionalProperties": false})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": string()})
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn station() -> Value {
    path_param("id", "Station identity")
}

fn error_responses(codes: &[&str]) -> Map<String, Value> {
    codes
        .iter()
        .map(|code| {
            let content = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
            (code.to_string(), json!({"description": describe(code), "content": content}))
        })
        .collect()
}

fn describe(code: &str) -> &'static str {
    match code {
        "400" => "Malformed request",
        "401" => "No API token, or an unknown, expired or revoked one",
        "415" => "A body that is not declared as JSON (Content-Type: application/json)",
        "403" => "The token's role is not enough",
        "404" => "Unknown station, action or resource",
        "409" => "Conflict (exists already, or the station is offline)",
        "422" => "A field is invalid",
        "502" => "The station answered with a CALLERROR or an invalid payload",
        "504" => "The station did not answer in time",
        _ => "Storage failed",
    }
}

/// One operation: `role` is the least role that may call it.
fn op(summary: &str, role: &str, params: Vec<Value>, body: Option<Value>, ok: (&str, &str), errors: &[&str]) -> Value {
    let mut responses = error_responses(&["401", "403", "500"]);
    responses.extend(error_responses(errors));
    responses.insert(ok.0.to_string(), json!({"description": ok.1, "content": {"application/json": {"schema": {}}}}));
    let mut operation = json!({
        "summary": summary,
        "description": format!("Needs a token with the {role} role (or more)."),
        "parameters": params,
        "responses": responses,
    });
    if let Some(schema) = body {
        operation["responses"]["415"] = json!({"description": describe("415"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    operation
}

/// `cursor`, `limit`, `from`, `to` and then a list's own filters; `time` names the time that
/// `from` and `to` bound.
fn paged(time: &str, mut filters: Vec<Value>) -> Vec<Value> {
    let mut params = vec![
        query("cursor", "The next_cursor of the previous page", string()),
        query(
            "limit",
            "At most this many (1-1000, default 100)",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
        query(
            "from",
            &format!("Only those whose {time} is at or after this"),
            json!({"type": "string", "format": "date-time"}),
        ),
        query(
            "to",
            &format!("Only those whose {time} is before this"),
            json!({"type": "string", "format": "date-time"}),
        ),
    ];
    params.append(&mut filters);
    params
}

/// A list operation: the answer is a page, `{"items": [...], "next_cursor": ...}`.
fn list(summary: &str, time: &str, mut params: Vec<Value>, filters: Vec<Value>, errors: &[&str]) -> Value {
    params.append(&mut paged(time, filters));
    let mut errors = errors.to_vec();
    errors.push("400");
    let mut operation = op(summary, "viewer", params, None, ("200", "A page"), &errors);
    operation["responses"]["200"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/Page"});
    operation
}

fn command_ok() -> (&'static str, &'static str) {
    ("200", "The station's reply payload")
}

const COMMAND_ERRORS: &[&str] = &["400", "404", "409", "422", "502", "504"];

pub(crate) fn document() -> Value {
    let id_token_body = object(
        &[
            ("id_token", json!({"type": "string", "maxLength": 36})),
            (
                "status",
                json!({"type": "string", "enum": ["Accepted", "Blocked", "Expired", "Invalid", "NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation", "NotAtThisTime"]}),
            ),
            ("expiry", json!({"type": "string", "format": "date-time"})),
            ("parent_id_token", json!({"type": "string", "maxLength": 36})),
            (
                "type",
                json!({"type": "string", "description": "OCPP 2.0.1 IdTokenEnumType; absent: the token is its value whatever the type",
                       "enum": ["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"]}),
            ),
        ],
        &["status"],
    );
    let mut api_tokens = list(
        "API tokens, oldest first (revoked and expired ones too; never a secret or its hash)",
        "creation time",
        vec![],
        vec![],
        &[],
    );
    api_tokens["description"] = json!("Needs a token with the admin role.");
    let paths = json!({
        "/metrics": {"get": op("Prometheus metrics (text format)", "viewer", vec![], None, ("200", "Metrics"), &[])},
        "/api/v1/stations": {"get": list("Stations, by id", "creation time", vec![], vec![], &[])},
        "/api/v1/stations/{id}": {
            "get": op("Show a station", "viewer", vec![station()], None, ("200", "The station"), &["404"]),
            "put": op("Set a station's registration, security profile (0 or 1; 2 and 3 need TLS, not supported yet) or write-only Basic-auth password", "admin", vec![station()],
                Some(any_of_object(&[
                    ("registration_status", json!({"type": "string", "enum": ["Accepted", "Pending", "Rejected"]})),
                    ("security_profile", json!({"type": "integer", "enum": [0, 1, 2, 3]})),
                    ("basic_auth_password", json!({"type": "string", "minLength": 16, "maxLength": 40, "pattern": "^[ -~]*$", "writeOnly": true})),
                ])),
                ("200", "The station"), &["400", "422"]),
        },
        "/api/v1/stations/{id}/messages": {"get": list("The station's message log, newest first", "time of logging",
            vec![station()], vec![], &["404"])},
        "/api/v1/stations/{id}/events": {"get": list("Notifications the station sent about itself, newest first", "time",
            vec![station()], vec![query("kind", "Only this OCPP action", string())], &["404"])},
        "/api/v1/stations/{id}/monitors": {"get": list("Variable monitors the 2.0.1 station reported (NotifyMonitoringReport), by monitor id",
            "last report", vec![station()], vec![], &["404"])},
        "/api/v1/stations/{id}/variables": {"get": op("The 2.0.1 device model", "viewer", vec![station()], None, ("200", "Variables"), &["404"])},
        "/api/v1/stations/{id}/configuration": {"get": op("Configuration keys the station reported", "viewer", vec![station()], None, ("200", "Keys"), &["404"])},
        "/api/v1/stations/{id}/configuration/fetch": {"post": op("Read configuration from the station", "operator", vec![station()],
            Some(object(&[("keys", json!({"type": "array", "items": string()}))], &[])), command_ok(), COMMAND_ERRORS)},
        "/api/v1/stations/{id}/configuration/{key}": {"put": op("Change a configuration value on the station", "operator",
            vec![station(), path_param("key", "1.6 key, or 2.0.1 Component.Variable[instance]")],
            Some(object(&[("value", string())], &["value"])), command_ok(), COMMAND_ERRORS)},
        "/api/v1/stations/{id}/reservations": {"get": op("Reservations", "viewer", vec![station()], None, ("200", "Reservations"), &["404"])},
        "/api/v1/stations/{id}/transfers": {"get": list("Firmware updates and diagnostics/log uploads, followed through their status notifications, newest first",
            "request time", vec![station()], vec![], &["404"])},
        "/api/v1/stations/{id}/charging-profiles": {"get": op("Installed charging profiles", "viewer", vec![station()], None, ("200", "Profiles"), &["404"])},
        "/api/v1/stations/{id}/availability": {
            "get": op("Availability settings", "viewer", vec![station()], None, ("200", "Settings"), &["404"]),
            "post": op("Make a station, EVSE or connector operative or inoperative", "operator", vec![station()],
                Some(object(&[("operative", json!({"type": "boolean"})), ("evse_id", integer()), ("connector_id", integer())], &["operative"])),
                command_ok(), COMMAND_ERRORS),
        },
        "/api/v1/stations/{id}/local-list": {
            "get": op("The local list the station holds, as far as Ström knows", "viewer", vec![station()], None, ("200", "Version and entries"), &["404"]),
            "post": op("Send Ström's id tokens as the station's local list (Full) or the changes since (Differential)", "operator",
                vec![station()], Some(object(&[("update_type", json!({"type": "string", "enum": ["Full", "Differential"]}))], &["update_type"])),
                ("200", "Version, messages and entries sent"), COMMAND_ERRORS),
        },
        "/api/v1/stations/{id}/remote-start": {"post": op("Ask the station to start a transaction", "operator", vec![station()],
            Some(object(&[("id_token", string()), ("evse_id", integer()), ("connector_id", integer()),
                ("force", json!({"type": "boolean", "default": false, "description":
                    "Send it even when Ström knows the token as Blocked, Expired, Invalid, … (else 409) or not at all (else 422)"}))],
                &["id_token"])), command_ok(), COMMAND_ERRORS)},
        "/api/v1/stations/{id}/remote-stop": {"post": op("Ask the station to stop a transaction", "operator", vec![station()],
            Some(object(&[("transaction_id", integer())], &["transaction_id"])), command_ok(), COMMAND_ERRORS)},
        "/api/v1/stations/{id}/reset": {"post": op("Reset the station", "operator", vec![station()],
            Some(object(&[("type", json!({"type": "string", "enum": ["hard", "soft"]}))], &["type"])), command_ok(), COMMAND_ERRORS)},
        "/api/v1/stations/{id}/unlock": {"post": op("Unlock a connector", "operator", vec![station()],
            Some(object(&[("connector_id", integer()), ("evse_id", integer())], &["connector_id"])), command_ok(), COMMAND_ERRORS)},
        "/api/v1/stations/{id}/password": {"post": op(
            "Give a connected station a new Basic-auth password (1.6 AuthorizationKey, hex-encoded; 2.0.1 SecurityCtrlr.BasicAuthPassword): \
             the given one (1.6: 16-20 characters, 2.0.1: 16-40) or one Ström makes. It replaces the stored one only if the station \
             takes it; the answer then holds it, the only time it is shown. 502 with changed false: the station refused it",
            "admin", vec![station()],
            Some(object(&[("password", json!({"type": "string", "minLength": 16, "maxLength": 40, "pattern": "^[ -~]*$", "writeOnly": true}))], &[])),
            ("200", "station_id, command_id, status (the station's answer), changed, password (when changed), security_profile"),
            &["400", "404", "409", "422", "502", "504"])},
        "/api/v1/stations/{id}/commands": {"get": list("The command log, newest first", "request time", vec![station()], vec![], &["404"])},
        "/api/v1/stations/{id}/commands/{action}": {"post": op(
            "Send any CSMS-initiated OCPP action of the station's version; the body is its request payload",
            "operator", vec![station(), path_param("action", "OCPP action name, e.g. Reset")],
            Some(json!({"type": "object"})), command_ok(), COMMAND_ERRORS)},
        "/api/v1/stations/{id}/certificates": {"get": op(
            "Certificates: those Ström signed for the station (status issued, accepted or rejected by the station), those the station holds (its GetInstalledCertificateIds listing, installs and deletions it accepted), its security events about certificates; each with days_left. No private key is ever shown (none is stored)",
            "viewer", vec![station()], None, ("200", "issued, installed, security_events"), &["404"])},
        "/api/v1/stations/{id}/certificates/renew": {"post": op(
            "Ask the station to renew its certificate (1.6 ExtendedTriggerMessage SignChargePointCertificate, 2.0.1 TriggerMessage SignChargingStationCertificate); the station then sends a CSR, which Ström's CA signs",
            "operator", vec![station()], None, command_ok(), COMMAND_ERRORS)},
        "/api/v1/certificates": {"get": op(
            "Certificates of every station that expire within a number of days (expired ones included), soonest first: those Ström signed and still in use, and installed ones whose expiry Ström knows",
            "viewer", vec![query("expiring_within_days", "Days from now (0-36500, default 30)", json!({"type": "integer", "minimum": 0, "maximum": 36500}))],
            None, ("200", "Certificates"), &["400"])},
        "/api/v1/transactions": {"get": list("Transactions, newest first", "start", vec![],
            vec![query("station_id", "Only this station", string()), query("active", "Only running (true) or ended (false)", json!({"type": "boolean"}))],
            &[])},
        "/api/v1/transactions/{id}": {"get": op("Show a transaction", "viewer", vec![path_param("id", "Ström's transaction id")], None, ("200", "The transaction"), &["400", "404"])},
        "/api/v1/transactions/{id}/meter-values": {"get": list("A transaction's readings, oldest first", "timestamp",
            vec![path_param("id", "Ström's transaction id")], vec![], &["404"])},
        "/api/v1/faults": {"get": list("Fault records, newest first", "start", vec![],
            vec![query("station_id", "Only this station", string()), query("open", "Only open (true) or cleared (false)", json!({"type": "boolean"}))],
            &[])},
        "/api/v1/id-tokens": {
            "get": list("Id tokens, by token", "creation time", vec![], vec![], &[]),
            "post": op("Create an id token", "admin", vec![], Some(id_token_body.clone()), ("201", "Created"), &["400", "409", "422"]),
        },
        "/api/v1/id-tokens/{id_token}": {
            "get": op("Show an id token", "viewer", vec![path_param("id_token", "The token")], None, ("200", "The token"), &["404"]),
            "put": op("Create or change an id token", "admin", vec![path_param("id_token", "The token")], Some(id_token_body), ("200", "Saved"), &["400", "422"]),
            "delete": op("Remove an id token", "admin", vec![path_param("id_token", "The token")], None, ("204", "Removed"), &["404"]),
        },
        "/api/v1/tokens": {"get": api_tokens},
        "/api/v1/tokens/{id}": {"delete": op("Revoke an API token: refused (401) from now on", "admin",
            vec![path_param("id", "The API token's id, as listed")], None, ("204", "Revoked"), &["400", "404"])},
        "/api/v1/openapi.json": {"get": op("This document", "viewer", vec![], None, ("200", "OpenAPI 3 document"), &[])},
    });
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Ström operator API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Stations, transactions, energy, faults, id tokens and commands of an OCPP 1.6J / 2.0.1 network. \
                     Lists answer a Page: pass its next_cursor as cursor for the next page (null: the last page); \
                     following the cursors visits every row once, even while rows are added."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": object(&[("error", string())], &["error"]),
                "Page": object(&[("items", json!({"type": "array", "items": {}})),
                    ("next_cursor", json!({"type": "string", "nullable": true, "description": "Pass as cursor for the next page; null on the last page"}))],
                    &["items", "next_cursor"]),
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    })
}
