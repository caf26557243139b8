//! The OpenAPI 3 description of the operator API, served at `/api/v1/openapi.json` without a
//! token (it holds no data). It is built here, beside the routes: the operations in this file,
//! the shapes of their answers in `schemas.rs`. Tests request every operation it lists from a
//! running server, validate the real answers against its schemas, and check the document
//! itself against the OpenAPI 3.0 specification, so it cannot drift from the API.

mod availability;
mod billing;
mod exports;
mod notify;
pub(crate) mod reference;
mod schemas;

use crate::paging::CursorKey;
use schemas::{boolean, fault_category, nullable, object, reference, string};
use serde_json::{json, Map, Value};

/// Station identities as Ström accepts them (`StationId::parse`, OCPP 2.0.1 identifierString).
const STATION_ID_PATTERN: &str = r"^[A-Za-z0-9*\-_=+|@.]{1,48}$";

/// `schema` with a description.
fn with_description(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

/// The pattern of list `list`'s cursors, whose key is a `K`.
fn cursor<K: CursorKey>(list: &str) -> String {
    crate::paging::cursor_pattern::<K>(list)
}

/// Text without NUL: PostgreSQL text holds none, so the API takes none (`text::refuse_nul`).
const NO_NUL: &str = "^[^\\u0000]*$";

/// `schema`, if it is a string without a pattern, with one that excludes NUL.
fn without_nul(mut schema: Value) -> Value {
    if schema["type"] == "string" && schema.get("pattern").is_none() {
        schema["pattern"] = json!(NO_NUL);
    }
    schema
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": without_nul(schema)})
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": without_nul(schema)})
}

pub(super) fn station() -> Value {
    path_param(
        "id",
        "Station identity",
        json!({"type": "string", "minLength": 1, "maxLength": 48, "pattern": STATION_ID_PATTERN}),
    )
}

fn transaction() -> Value {
    path_param("id", "Ström's transaction id", json!({"type": "integer", "format": "int64"}))
}

fn id_token_param() -> Value {
    path_param("id_token", "The token", json!({"type": "string", "minLength": 1, "maxLength": 36}))
}

fn error(code: &str) -> Value {
    json!({"description": describe(code), "content": {"application/json": {"schema": reference("Error")}}})
}

fn describe(code: &str) -> &'static str {
    match code {
        "400" => "Malformed request",
        "401" => "No API token, or an unknown, expired or revoked one",
        "403" => "The token's role is not enough",
        "404" => "Unknown station, action or resource",
        "409" => "Conflict (exists already, or the station is offline or not accepted)",
        "415" => "A body that is not declared as JSON (Content-Type: application/json)",
        "422" => {
            "A field is invalid, or a value that the schema allows cannot be used here (e.g. one the station's OCPP \
                   version does not take: a 1.6 idTag or AuthorizationKey is at most 20 characters)"
        }
        "502" => "The station answered with a CALLERROR or an invalid payload, or the connection was lost",
        "504" => "The station did not answer in time",
        _ => "Storage failed",
    }
}

/// What a successful call answers.
enum Success {
    /// JSON of a component schema.
    Json(&'static str, &'static str, &'static str),
    /// No body.
    Empty(&'static str, &'static str),
    /// Text.
    Text(&'static str, &'static str, &'static str),
    /// An HTML page.
    Html(&'static str, &'static str, &'static str),
    /// Server-Sent Events, each event's data JSON of a component schema.
    EventStream(&'static str, &'static str),
    /// JSON of a component schema, or CSV (with an example) when the request asks for it.
    JsonOrCsv(&'static str, &'static str, &'static str),
}

fn ok(description: &'static str, schema: &'static str) -> Success {
    Success::Json("200", description, schema)
}

/// The `x-command-id` header: the command log's entry of a command sent to a station.
fn command_id_header() -> Value {
    json!({"x-command-id": {"description": "The id of the command in the station's command log (GET .../commands)",
                            "schema": {"type": "integer", "format": "int64"}}})
}

/// One operation. `role` is the least role that may call it (None: no token needed); `errors`
/// are its own error statuses beside 401, 403 and 500.
struct Op {
    id: &'static str,
    summary: String,
    role: Option<&'static str>,
    params: Vec<Value>,
    body: Option<(Value, Value)>,
    success: Success,
    errors: &'static [&'static str],
    /// A command sent to a station: 200 is the station's reply with `x-command-id`, 502 a
    /// `CommandFailure`.
    command: bool,
    /// A 502 that answers the success's own schema (the station refused), or an `Error` (the
    /// connection was lost).
    refused: Option<&'static str>,
    /// A PUT that may create: 201 with the same body as the success.
    creates: bool,
}

fn op(id: &'static str, summary: &str, role: &'static str, params: Vec<Value>, success: Success) -> Op {
    Op {
        id,
        summary: summary.to_string(),
        role: Some(role),
        params,
        body: None,
        success,
        errors: &[],
        command: false,
        refused: None,
        creates: false,
    }
}

impl Op {
    fn errors(mut self, errors: &'static [&'static str]) -> Op {
        self.errors = errors;
        self
    }

    /// A JSON request body with its schema and an example.
    fn body(mut self, schema: Value, example: Value) -> Op {
        self.body = Some((schema, example));
        self
    }

    fn command(mut self) -> Op {
        self.command = true;
        self.errors = COMMAND_ERRORS;
        self
    }

    /// 502: the station did not take it, answered with `schema` (or an `Error`).
    fn refused_as(mut self, schema: &'static str) -> Op {
        self.refused = Some(schema);
        self.errors = &["400", "404", "409", "422", "504"];
        self
    }

    /// 201 as well as the success: a PUT that created what it names.
    fn or_created(mut self) -> Op {
        self.creates = true;
        self
    }

    fn open(mut self) -> Op {
        self.role = None;
        self
    }

    fn build(self, schemas: &Map<String, Value>) -> Value {
        let mut responses = Map::new();
        let mut codes = vec!["500"];
        if self.role.is_some() {
            codes.extend(["401", "403"]);
        }
        codes.extend(self.errors);
        for code in codes {
            responses.insert(code.to_string(), error(code));
        }
        let (code, success) = match self.success {
            Success::Json(code, description, schema) => {
                let mut media = json!({"schema": reference(schema)});
                if let Some(example) = schemas.get(schema).and_then(|s| example_of(s, schemas)) {
                    media["example"] = example;
                }
                (code, json!({"description": description, "content": {"application/json": media}}))
            }
            Success::JsonOrCsv(description, schema, csv) => {
                let mut media = json!({"schema": reference(schema)});
                if let Some(example) = schemas.get(schema).and_then(|s| example_of(s, schemas)) {
                    media["example"] = example;
                }
                let csv = json!({"schema": {"type": "string"}, "example": csv});
                ("200", json!({"description": description, "content": {"application/json": media, "text/csv": csv}}))
            }
            Success::Empty(code, description) => (code, json!({"description": description})),
            Success::Text(code, description, example) => (
                code,
                json!({"description": description,
                       "content": {"text/plain": {"schema": {"type": "string"}, "example": example}}}),
            ),
            Success::Html(code, description, example) => (
                code,
                json!({"description": description,
                       "content": {"text/html": {"schema": {"type": "string"}, "example": example}}}),
            ),
            Success::EventStream(description, schema) => {
                let event = schemas.get(schema).and_then(|s| example_of(s, schemas)).unwrap_or_default();
                let kind = event["kind"].as_str().unwrap_or_default();
                let example = format!("id: {}\nevent: {kind}\ndata: {event}\n\n", event["id"]);
                let description = format!("{description} Each event's data is JSON of the {schema} schema.");
                (
                    "200",
                    json!({"description": description,
                    "content": {"text/event-stream": {"schema": {"type": "string"}, "example": example}}}),
                )
            }
        };
        if self.creates {
            let mut created = success.clone();
            created["description"] = json!("Created");
            responses.insert("201".into(), created);
        }
        responses.insert(code.to_string(), success);
        if self.command {
            responses[code]["headers"] = command_id_header();
            let mut failure = json!({"description": describe("502"),
                "content": {"application/json": {"schema": reference("CommandFailure"),
                    "example": schemas["CommandFailure"]["example"].clone()}}});
            failure["headers"] = command_id_header();
            responses.insert("502".into(), failure);
        }
        if let Some(schema) = self.refused {
            let mut refused = json!({"description": "The station did not take it (or the connection was lost: an Error)",
                "content": {"application/json": {"schema": {"anyOf": [reference(schema), reference("Error")]}}}});
            if let Some(example) = schemas.get(schema).and_then(|s| example_of(s, schemas)) {
                refused["content"]["application/json"]["example"] = example;
            }
            responses.insert("502".into(), refused);
        }
        let description = match self.role {
            Some(role) => format!("Needs a token with the {role} role (or more)."),
            None => "Needs no token.".to_string(),
        };
        let mut operation = json!({
            "operationId": self.id,
            "summary": self.summary,
            "description": description,
            "parameters": self.params,
            "responses": responses,
        });
        if self.role.is_none() {
            operation["security"] = json!([]);
        }
        if let Some((schema, example)) = self.body {
            operation["responses"]["413"] = json!({"description": "The body is larger than the API takes (2 MB)",
                "content": {"text/plain": {"schema": {"type": "string"}}}});
            operation["responses"]["415"] = error("415");
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema, "example": example}}});
        }
        operation
    }
}

/// The example of a component schema; for a page, a page of its item's example.
fn example_of(schema: &Value, schemas: &Map<String, Value>) -> Option<Value> {
    if let Some(example) = schema.get("example") {
        return Some(example.clone());
    }
    let item = schema["properties"]["items"]["items"]["$ref"].as_str()?.rsplit('/').next()?;
    Some(json!({"items": [schemas.get(item)?.get("example")?.clone()], "next_cursor": null}))
}

/// `cursor`, `limit`, `from`, `to` and then a list's own filters; `time` names the time that
/// `from` and `to` bound; `cursor` is the pattern of the list's cursors.
fn paged(time: &str, cursor: String, mut filters: Vec<Value>) -> Vec<Value> {
    let mut params = vec![
        query(
            "cursor",
            "The next_cursor of the previous page of this list: pass it as it is (its pattern is the whole format; \
             a cursor of another list, or not of this form, is a 400)",
            json!({"type": "string", "pattern": cursor}),
        ),
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
            &format!("Only those whose {time} is before this (at or before from: an empty window, an empty page)"),
            json!({"type": "string", "format": "date-time"}),
        ),
    ];
    params.append(&mut filters);
    params
}

/// A list operation: the answer is a page of `page`, `{"items": [...], "next_cursor": ...}`;
/// `cursor` is its cursors' pattern (`cursor::<K>(list)`, as the list's handler reads them).
#[allow(clippy::too_many_arguments)]
fn list(
    id: &'static str,
    summary: &str,
    time: &str,
    cursor: String,
    mut params: Vec<Value>,
    filters: Vec<Value>,
    page: &'static str,
) -> Op {
    let errors: &'static [&'static str] = if params.is_empty() { &["400"] } else { &["400", "404"] };
    params.append(&mut paged(time, cursor, filters));
    op(id, summary, "viewer", params, ok("A page", page)).errors(errors)
}

const COMMAND_ERRORS: &[&str] = &["400", "404", "409", "422", "504"];

/// An evse or connector id in a request body: 0 to 2^31-1 (the ids the API takes), or null for
/// none.
fn optional_id(description: &str) -> Value {
    json!({"type": "integer", "format": "int32", "minimum": 0, "maximum": i32::MAX, "nullable": true, "description": description})
}

fn token_body(id_token_required: bool) -> Value {
    let token = json!({"type": "string", "minLength": 1, "maxLength": 36, "pattern": NO_NUL});
    let properties = [
        (
            "id_token",
            if id_token_required {
                token.clone()
            } else {
                json!({"type": "string", "minLength": 1, "maxLength": 36, "nullable": true, "pattern": NO_NUL,
                       "description": "If given, the same as in the URL (null: as absent)"})
            },
        ),
        ("status", json!({"type": "string", "enum": schemas::TOKEN_STATUSES})),
        ("expiry", nullable(json!({"type": "string", "format": "date-time"}))),
        (
            "parent_id_token",
            json!({"type": "string", "minLength": 1, "maxLength": 36, "nullable": true, "pattern": NO_NUL}),
        ),
        (
            "type",
            json!({"type": "string", "nullable": true, "enum": schemas::TOKEN_TYPES.iter().map(|t| json!(t)).chain([Value::Null]).collect::<Vec<_>>(),
                   "description": "OCPP 2.0.1 IdTokenEnumType; absent: the token is its value whatever the type"}),
        ),
    ];
    object(&properties, if id_token_required { &["id_token", "status"] } else { &["status"] })
}

fn operations() -> Vec<(&'static str, &'static str, Op)> {
    let station_password =
        json!({"type": "string", "minLength": 16, "maxLength": 40, "pattern": "^[ -~]*$", "writeOnly": true});
    let token_example = json!({"id_token": "TAG1", "status": "Accepted"});
    let mut operations = vec![
        ("/metrics", "get", op("metrics", "Prometheus metrics (text exposition format 0.0.4)", "viewer", vec![],
            Success::Text("200", "Metrics", "# TYPE strom_open_faults gauge\nstrom_open_faults 0\n"))),
        ("/api/v1/openapi.json", "get", op("openapi", "This document", "viewer", vec![],
            Success::Json("200", "OpenAPI 3 document", "OpenApiDocument")).open()),
        ("/api/v1/docs", "get", op("apiReference",
            "This document as a reference page for people: every operation by tag, with its parameters, bodies, answers and examples, and every schema",
            "viewer", vec![], Success::Html("200", "The reference page (HTML, no script)",
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ström operator API reference</title>")).open()),
        ("/api/v1/me", "get", op("getMe", "Who the token is: its name and role (what a client may offer; the dashboard asks it at login)", "viewer",
            vec![], ok("The caller's token", "Me"))),
        ("/api/v1/stations", "get", list("listStations", "Stations, by id", "creation time", cursor::<String>("stations"), vec![], vec![], "StationPage")),
        ("/api/v1/stations/{id}", "get", op("getStation", "Show a station", "viewer", vec![station()], ok("The station", "Station")).errors(&["404"])),
        ("/api/v1/stations/{id}", "put", op("putStation",
            "Set a station's registration (Rejected: no commands are sent to it), security profile (0 or 1; 2 and 3 need TLS) or write-only Basic-auth password \
             (409: a profile that needs a password, with none given or stored)",
            "admin", vec![station()], ok("The station", "Station")).errors(&["400", "409", "422"])
            .body(json!({"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
                    "registration_status": {"type": "string", "enum": ["Accepted", "Pending", "Rejected"]},
                    "security_profile": {"type": "integer", "enum": [0, 1, 2, 3]},
                    "basic_auth_password": station_password.clone()}}),
                json!({"registration_status": "Accepted"}))),
        ("/api/v1/stations/{id}", "delete", op("decommissionStation",
            "Decommission a station: it may no longer connect (refused at the handshake; a live session is closed now); its history stays",
            "admin", vec![station()], Success::Empty("204", "Decommissioned")).errors(&["404"])),
        ("/api/v1/stations/{id}/messages", "get", list("listStationMessages", "The station's message log, newest first", "time of logging",
            cursor::<i64>("messages"), vec![station()], vec![], "MessagePage")),
        ("/api/v1/stations/{id}/events", "get", list("listStationEvents", "Notifications the station sent about itself, newest first", "time",
            cursor::<i64>("events"), vec![station()], vec![query("kind", "Only this OCPP action", string())], "StationEventPage")),
        ("/api/v1/stations/{id}/monitors", "get", list("listStationMonitors", "Variable monitors the 2.0.1 station reported (NotifyMonitoringReport), by monitor id",
            "last report", cursor::<i64>("monitors"), vec![station()], vec![], "MonitorPage")),
        ("/api/v1/stations/{id}/variables", "get", op("getStationVariables", "The 2.0.1 device model", "viewer", vec![station()],
            ok("Variables", "Variables")).errors(&["404"])),
        ("/api/v1/stations/{id}/configuration", "get", op("getStationConfiguration", "Configuration keys the station reported", "viewer",
            vec![station()], ok("Keys", "ConfigurationKeys")).errors(&["404"])),
        ("/api/v1/stations/{id}/configuration/fetch", "post", op("fetchConfiguration", "Read configuration from the station", "operator",
            vec![station()], ok("The station's reply payload", "CommandReply")).command()
            .body(object(&[("keys", json!({"type": "array", "items": string()}))], &[]), json!({"keys": ["HeartbeatInterval"]}))),
        ("/api/v1/stations/{id}/configuration/{key}", "put", op("setConfiguration", "Change a configuration value on the station", "operator",
            vec![station(), path_param("key", "1.6 key, or 2.0.1 Component.Variable[instance]", string())],
            ok("The station's reply payload", "CommandReply")).command()
            .body(object(&[("value", string())], &["value"]), json!({"value": "300"}))),
        ("/api/v1/stations/{id}/reservations", "get", op("getStationReservations", "Reservations", "viewer", vec![station()],
            ok("Reservations", "Reservations")).errors(&["404"])),
        ("/api/v1/stations/{id}/transfers", "get", list("listStationTransfers",
            "Firmware updates and diagnostics/log uploads, followed through their status notifications, newest first",
            "request time", cursor::<i64>("transfers"), vec![station()], vec![], "TransferPage")),
        ("/api/v1/stations/{id}/charging-profiles", "get", op("getStationChargingProfiles", "Installed charging profiles", "viewer",
            vec![station()], ok("Profiles", "ChargingProfiles")).errors(&["404"])),
        ("/api/v1/stations/{id}/availability", "get", op("getStationAvailability", "Availability settings", "viewer", vec![station()],
            ok("Settings", "AvailabilitySettings")).errors(&["404"])),
        ("/api/v1/stations/{id}/availability", "post", op("changeAvailability", "Make a station, EVSE or connector operative or inoperative",
            "operator", vec![station()], ok("The station's reply payload", "CommandReply")).command()
            .body(object(&[("operative", boolean()), ("evse_id", optional_id("The EVSE (2.0.1); absent: the whole station")),
                ("connector_id", optional_id("The connector"))], &["operative"]), json!({"operative": false, "connector_id": 1}))),
        ("/api/v1/stations/{id}/local-list", "get", op("getLocalList", "The local list the station holds, as far as Ström knows", "viewer",
            vec![station()], ok("Version and entries", "LocalList")).errors(&["404"])),
        ("/api/v1/stations/{id}/local-list", "post", op("sendLocalList",
                "Send Ström's id tokens as the station's local list (Full) or the changes since (Differential); 502 with the same body (and error) when the station did not accept it",
                "operator", vec![station()], ok("Version, messages and entries sent", "LocalListSent"))
                .body(object(&[("update_type", json!({"type": "string", "enum": ["Full", "Differential"]}))], &["update_type"]),
                    json!({"update_type": "Full"})).refused_as("LocalListSent")),
        ("/api/v1/stations/{id}/remote-start", "post", op("remoteStart", "Ask the station to start a transaction", "operator", vec![station()],
            ok("The station's reply payload", "CommandReply")).command()
            .body(object(&[("id_token", json!({"type": "string", "minLength": 1, "maxLength": 36})),
                ("evse_id", optional_id("The EVSE (2.0.1)")), ("connector_id", optional_id("The connector")),
                ("force", json!({"type": "boolean", "default": false, "description":
                    "Send it even when Ström knows the token as Blocked, Expired, Invalid, … (else 409) or not at all (else 422)"}))],
                &["id_token"]),
                json!({"id_token": "TAG1", "connector_id": 1}))),
        ("/api/v1/stations/{id}/remote-stop", "post", op("remoteStop", "Ask the station to stop a transaction", "operator", vec![station()],
            ok("The station's reply payload", "CommandReply")).command()
            .body(object(&[("transaction_id", json!({"type": "integer", "format": "int64", "description": "Ström's transaction id"}))], &["transaction_id"]),
                json!({"transaction_id": 7}))),
        ("/api/v1/stations/{id}/reset", "post", op("reset", "Reset the station", "operator", vec![station()],
            ok("The station's reply payload", "CommandReply")).command()
            .body(object(&[("type", json!({"type": "string", "enum": ["hard", "soft"]}))], &["type"]), json!({"type": "soft"}))),
        ("/api/v1/stations/{id}/unlock", "post", op("unlock", "Unlock a connector", "operator", vec![station()],
            ok("The station's reply payload", "CommandReply")).command()
            .body(object(&[("connector_id", json!({"type": "integer", "format": "int32", "minimum": 0, "maximum": i32::MAX})), ("evse_id", optional_id("The EVSE (2.0.1)"))], &["connector_id"]),
                json!({"connector_id": 1}))),
        ("/api/v1/stations/{id}/password", "post", op("rotatePassword",
                "Give a connected station a new Basic-auth password (1.6 AuthorizationKey, hex-encoded; 2.0.1 SecurityCtrlr.BasicAuthPassword): \
                 the given one (1.6: 16-20 characters, 2.0.1: 16-40) or one Ström makes. It replaces the stored one only if the station \
                 takes it; the answer then holds it, the only time it is shown. 502 with the same body, changed false: the station refused it",
                "admin", vec![station()], ok("The new password, shown once", "PasswordRotation"))
                .body(object(&[("password", nullable(with_description(station_password,
                    "The new password; absent or null: Ström makes one")))], &[]), json!({})).refused_as("PasswordRotation")),
        ("/api/v1/stations/{id}/commands", "get", list("listStationCommands", "The command log, newest first", "request time",
            cursor::<i64>("commands"), vec![station()], vec![], "CommandPage")),
        ("/api/v1/stations/{id}/commands/{action}", "post", op("sendCommand",
            "Send any CSMS-initiated OCPP action of the station's version; the body is its request payload",
            "operator", vec![station(), path_param("action", "OCPP action name, e.g. Reset", json!({"type": "string", "pattern": "^[A-Za-z0-9]+$"}))],
            ok("The station's reply payload", "CommandReply")).command()
            .body(json!({"type": "object", "description": "The action's request payload, as its OCPP schema has it"}), json!({"type": "Soft"}))),
        ("/api/v1/stations/{id}/certificates", "get", op("getStationCertificates",
            "Certificates: those Ström signed for the station (status issued, accepted or rejected by the station), those the station holds (its GetInstalledCertificateIds listing, installs and deletions it accepted), its security events about certificates; each with days_left. No private key is ever shown (none is stored)",
            "viewer", vec![station()], ok("issued, installed, security_events", "StationCertificates")).errors(&["404"])),
        ("/api/v1/stations/{id}/certificates/renew", "post", op("renewCertificate",
            "Ask the station to renew its certificate (1.6 ExtendedTriggerMessage SignChargePointCertificate, 2.0.1 TriggerMessage SignChargingStationCertificate); the station then sends a CSR, which Ström's CA signs",
            "operator", vec![station()], ok("The station's reply payload", "CommandReply")).command()),
        ("/api/v1/certificates", "get", op("listExpiringCertificates",
            "Certificates of every station that expire within a number of days (expired ones included), soonest first: those Ström signed and still in use, and installed ones whose expiry Ström knows",
            "viewer", vec![query("expiring_within_days", "Days from now (0-36500, default 30)", json!({"type": "integer", "minimum": 0, "maximum": 36500}))],
            ok("Certificates", "ExpiringCertificates")).errors(&["400"])),
        ("/api/v1/transactions", "get", list("listTransactions", "Transactions, newest first", "start", cursor::<i64>("transactions"), vec![],
            vec![query("station_id", "Only this station", string()), query("active", "Only running (true) or ended (false)", boolean())],
            "TransactionPage")),
        ("/api/v1/transactions/{id}", "get", op("getTransaction", "Show a transaction", "viewer", vec![transaction()],
            ok("The transaction, with what its readings show so far", "TransactionDetail")).errors(&["400", "404"])),
        ("/api/v1/transactions/{id}/meter-values", "get", list("listTransactionMeterValues", "A transaction's readings, oldest first", "timestamp",
            cursor::<(String, i64)>("meter-values"), vec![transaction()], vec![], "MeterValuePage")),
        ("/api/v1/faults", "get", list("listFaults", "Fault records, newest first", "start", cursor::<i64>("faults"), vec![],
            vec![query("station_id", "Only this station", string()), query("open", "Only open (true) or cleared (false)", boolean()),
                 query("category", "Only faults of this category", fault_category())],
            "FaultPage")),
        ("/api/v1/availability", "get", availability::operation()),
        ("/api/v1/faults/{id}", "get", op("getFault", "Show a fault", "viewer",
            vec![path_param("id", "The fault's id", json!({"type": "integer", "format": "int64"}))],
            ok("The fault", "Fault")).errors(&["400", "404"])),
        ("/api/v1/id-tokens", "get", list("listIdTokens", "Id tokens, by token", "creation time", cursor::<String>("id-tokens"), vec![], vec![], "IdTokenPage")),
        ("/api/v1/id-tokens", "post", op("createIdToken", "Create an id token", "admin", vec![], Success::Json("201", "Created", "IdToken"))
            .errors(&["400", "409", "422"]).body(token_body(true), token_example.clone())),
        ("/api/v1/id-tokens/{id_token}", "get", op("getIdToken", "Show an id token", "viewer", vec![id_token_param()], ok("The token", "IdToken"))
            .errors(&["404"])),
        ("/api/v1/id-tokens/{id_token}", "put", op("putIdToken",
            "Create or change an id token (409: the body's id_token names another token than the URL)", "admin",
            vec![id_token_param()], ok("Saved", "IdToken"))
            .errors(&["400", "409", "422"]).body(token_body(false), json!({"status": "Blocked"}))),
        ("/api/v1/id-tokens/{id_token}", "delete", op("deleteIdToken", "Remove an id token", "admin", vec![id_token_param()],
            Success::Empty("204", "Removed")).errors(&["404"])),
        ("/api/v1/tokens", "get", {
            let mut tokens = list("listApiTokens", "API tokens, oldest first (revoked and expired ones too; never a secret or its hash)",
                "creation time", cursor::<i64>("tokens"), vec![], vec![], "ApiTokenPage");
            tokens.role = Some("admin");
            tokens
        }),
        ("/api/v1/tokens/{id}", "delete", op("revokeApiToken", "Revoke an API token: refused (401) from now on", "admin",
            vec![path_param("id", "The API token's id, as listed", json!({"type": "integer", "format": "int64"}))],
            Success::Empty("204", "Revoked")).errors(&["400", "404"])),
    ];
    operations.extend(notify::operations());
    operations.extend(billing::operations());
    operations.extend(exports::operations());
    operations
}

/// The document's tags, in the order the reference page shows them.
const TAGS: [(&str, &str); 14] = [
    ("stations", "Stations: their registration, connection, connectors, and what they reported about themselves"),
    ("commands", "Commands sent to a connected station (OCPP CALLs from the CSMS); the station's answer is the API's"),
    ("transactions", "Charging sessions with their energy and meter readings"),
    ("faults", "Errors stations reported, from start to clearing"),
    (
        "availability",
        "Uptime per connector and station over a period: unavailable time and why, faults by category, time to repair",
    ),
    ("events", "What happens, as it happens: stored domain events and their live stream"),
    ("webhooks", "Events posted to other systems as they happen, signed, with retries"),
    ("alerts", "Rules over faults and connections, and the alerts they raise"),
    ("billing", "Tariffs (OCPI 2.2.1) and the charge detail records they price as sessions end"),
    ("reports", "Exports of a period streamed as JSON or CSV, and energy per station and hour, day or month"),
    ("id-tokens", "The id tokens (RFID cards, app ids, …) Ström authorizes"),
    ("certificates", "Certificates that Ström signed for stations or that stations hold"),
    ("api-tokens", "The bearer tokens of this API"),
    ("meta", "This document, its reference page, and metrics"),
];

/// An operation's tag: commands by what they do, the rest by the resource of their path.
fn tag_of(path: &str, operation: &Op) -> &'static str {
    let sends_to_station = operation.command || operation.refused.is_some();
    if path.contains("certificates") {
        "certificates"
    } else if sends_to_station {
        "commands"
    } else if path.starts_with("/api/v1/stations") {
        "stations"
    } else if path.starts_with("/api/v1/transactions") {
        "transactions"
    } else if path.starts_with("/api/v1/faults") {
        "faults"
    } else if path.starts_with("/api/v1/availability") {
        "availability"
    } else if path.starts_with("/api/v1/events") {
        "events"
    } else if path.starts_with("/api/v1/webhooks") {
        "webhooks"
    } else if path.starts_with("/api/v1/alert") {
        "alerts"
    } else if path.starts_with("/api/v1/tariffs") || path.starts_with("/api/v1/cdrs") {
        "billing"
    } else if path.starts_with("/api/v1/exports") || path.starts_with("/api/v1/reports") {
        "reports"
    } else if path.starts_with("/api/v1/id-tokens") {
        "id-tokens"
    } else if path.starts_with("/api/v1/tokens") || path == "/api/v1/me" {
        "api-tokens"
    } else {
        "meta"
    }
}

pub(crate) fn document() -> Value {
    let mut components = schemas::components();
    components.extend(availability::schemas());
    components.extend(billing::schemas().into_iter().map(|(name, schema)| (name.to_string(), schema)));
    components.extend(exports::schemas());
    for (name, item) in [
        ("Variables", "Variable"),
        ("ConfigurationKeys", "ConfigurationKey"),
        ("Reservations", "Reservation"),
        ("ChargingProfiles", "ChargingProfile"),
        ("AvailabilitySettings", "AvailabilitySetting"),
        ("ExpiringCertificates", "ExpiringCertificate"),
        ("AlertRules", "AlertRule"),
        ("Tariffs", "Tariff"),
        ("CdrExport", "Cdr"),
        ("MeterValueExport", "ExportedMeterValue"),
    ] {
        let example = components.get(item).and_then(|s| s.get("example")).map(|e| json!([e]));
        let mut array = schemas::array_of(item);
        if let Some(example) = example {
            array["example"] = example;
        }
        components.insert(name.into(), array);
    }
    components.insert(
        "OpenApiDocument".into(),
        json!({"type": "object", "description": "An OpenAPI 3.0 document", "required": ["openapi", "info", "paths"],
               "example": {"openapi": "3.0.3", "info": {"title": "Ström operator API", "version": env!("CARGO_PKG_VERSION")}, "paths": {}}}),
    );
    let mut paths = Map::new();
    for (path, method, operation) in operations() {
        let tag = tag_of(path, &operation);
        let mut built = operation.build(&components);
        built["tags"] = json!([tag]);
        paths.entry(path).or_insert_with(|| json!({}))[method] = built;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Ström operator API", "version": env!("CARGO_PKG_VERSION"),
                 "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
                 "description": "Stations, transactions, energy, faults, id tokens and commands of an OCPP 1.6J / 2.0.1 network. \
                     Lists answer a Page: pass its next_cursor as cursor for the next page (null: the last page); \
                     following the cursors visits every row once, even while rows are added. \
                     Every error is JSON {\"error\": \"...\"}, also 404 for a path that does not exist and 405 for a method a path does not serve \
                     (components.responses.MethodNotAllowed); a request body over 2 MB is refused with 413 (text/plain). \
                     A reference page for people, rendered from this document, is at /api/v1/docs (no token needed)."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
            "responses": {
                "MethodNotAllowed": {"description": "The path does not serve this method; the Allow header lists those it does",
                    "content": {"application/json": {"schema": reference("Error")}}},
                "PayloadTooLarge": {"description": "The body is larger than the API takes (2 MB)",
                    "content": {"text/plain": {"schema": {"type": "string"}}}},
            },
        },
        "security": [{"bearer": []}],
        "tags": TAGS.iter().map(|(name, description)| json!({"name": name, "description": description})).collect::<Vec<_>>(),
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every JSON object in the document, with where it is.
    fn walk<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Map<String, Value>)>) {
        match value {
            Value::Object(map) => {
                out.push((at.clone(), map));
                for (k, v) in map {
                    walk(v, format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_operation_has_an_id_an_example_and_a_described_success() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for (path, operations) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in operations.as_object().expect("operations") {
                let id = operation["operationId"].as_str().expect("an operationId");
                assert!(ids.insert(id.to_string()), "{id} twice");
                let tag = operation["tags"][0].as_str().expect("a tag");
                assert!(TAGS.iter().any(|(name, _)| *name == tag), "{id}: tag {tag} is not among the document's");
                let responses = operation["responses"].as_object().expect("responses");
                let (code, success) = responses.iter().find(|(c, _)| c.starts_with('2')).expect("a success");
                if code == "204" {
                    assert!(success.get("content").is_none(), "{method} {path}: 204 has no body");
                    continue;
                }
                let media = success["content"].as_object().expect("content").values().next().expect("a media type");
                assert!(media.get("example").is_some(), "{method} {path}: no example");
                assert_ne!(media["schema"], json!({}), "{method} {path}: an empty schema");
                if let Some(body) = operation.get("requestBody") {
                    assert!(
                        body["content"]["application/json"].get("example").is_some(),
                        "{method} {path}: no body example"
                    );
                }
            }
        }
    }

    #[test]
    fn no_empty_required_and_every_reference_resolves() {
        let doc = document();
        let mut objects = Vec::new();
        walk(&doc, String::new(), &mut objects);
        for (at, object) in objects {
            if let Some(required) = object.get("required").and_then(Value::as_array) {
                assert!(!required.is_empty(), "{at}: \"required\": [] is not OpenAPI 3.0");
            }
            if let Some(target) = object.get("$ref").and_then(Value::as_str) {
                let name = target.strip_prefix("#/components/schemas/").expect("a component schema");
                assert!(doc["components"]["schemas"].get(name).is_some(), "{at}: {target}");
            }
        }
    }

    #[test]
    fn the_station_pattern_is_the_station_id_rule() {
        let pattern = STATION_ID_PATTERN.trim_start_matches('^').trim_end_matches('$');
        assert!(pattern.ends_with("{1,48}"));
        for c in (0u8..128).map(char::from) {
            let allowed = csms_core::station::StationId::parse(&c.to_string()).is_some();
            let listed = c.is_ascii_alphanumeric() || "*-_=+|@.".contains(c);
            assert_eq!(allowed, listed, "{c:?}");
        }
        assert_eq!(csms_core::station::StationId::MAX_LEN, 48);
    }
}
