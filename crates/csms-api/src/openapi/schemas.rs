//! The shapes of the API's answers for its OpenAPI document: one schema per view of `views.rs`
//! (and per answer built in a handler), each listing every field the view writes, with an
//! example. A field added to a view is added here, in its one schema; the API tests validate
//! real answers against these schemas, and a field missing here fails them.

use serde_json::{json, Map, Value};

pub(super) fn string() -> Value {
    json!({"type": "string"})
}

pub(super) fn integer() -> Value {
    json!({"type": "integer", "format": "int64"})
}

pub(super) fn boolean() -> Value {
    json!({"type": "boolean"})
}

pub(super) fn number() -> Value {
    json!({"type": "number", "format": "double"})
}

pub(super) fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// `schema`, or null.
pub(super) fn nullable(mut schema: Value) -> Value {
    schema["nullable"] = json!(true);
    schema
}

/// Any JSON value (an OCPP payload as the station sent it).
pub(super) fn any_json(description: &str) -> Value {
    json!({"description": description})
}

pub(super) fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// An object with exactly these properties, of which `required` must be present. OpenAPI 3.0
/// wants `required` absent rather than empty.
pub(super) fn object(properties: &[(&str, Value)], required: &[&str]) -> Value {
    let props: Map<String, Value> = properties.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let mut schema = json!({"type": "object", "properties": props, "additionalProperties": false});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// A view: every property is always present (null when unknown).
pub(super) fn view(properties: &[(&str, Value)], example: Value) -> Value {
    let required: Vec<&str> = properties.iter().map(|(k, _)| *k).collect();
    let mut schema = object(properties, &required);
    schema["example"] = example;
    schema
}

/// A page of a list: `items` of the schema `item`, and the cursor of the next page.
pub(super) fn page(item: &str) -> Value {
    object(
        &[
            ("items", json!({"type": "array", "items": reference(item)})),
            (
                "next_cursor",
                json!({"type": "string", "nullable": true, "description": "Pass as cursor for the next page; null on the last page"}),
            ),
        ],
        &["items", "next_cursor"],
    )
}

pub(super) fn array_of(item: &str) -> Value {
    json!({"type": "array", "items": reference(item)})
}

pub(super) const AT: &str = "2026-12-01T10:00:00.000Z";

/// The component schemas, by name.
pub(super) fn components() -> Map<String, Value> {
    let mut schemas = Map::new();
    let mut add = |name: &str, schema: Value| {
        schemas.insert(name.to_string(), schema);
    };
    add("Error", object(&[("error", string())], &["error"]));
    add("Station", station());
    add("Connector", connector());
    add("Transaction", transaction());
    add("TransactionDetail", transaction_detail());
    add("MeterValue", meter_value());
    add("Fault", fault());
    for (name, schema) in super::notify::schemas() {
        add(name, schema);
    }
    add("Message", message());
    add("ApiToken", api_token());
    add("Me", me());
    add("IdToken", id_token());
    add("StationEvent", station_event());
    add("Variable", variable());
    add("Command", command());
    add("ConfigurationKey", configuration_key());
    add("Reservation", reservation());
    add("ChargingProfile", charging_profile());
    add("AvailabilitySetting", availability());
    add("Transfer", transfer());
    add("Monitor", monitor());
    add("LocalList", local_list());
    add("LocalListSent", local_list_sent());
    add("PasswordRotation", password_rotation());
    add("CommandReply", command_reply());
    add("CommandFailure", command_failure());
    add("IssuedCertificate", issued_certificate());
    add("InstalledCertificate", installed_certificate());
    add("StationCertificates", station_certificates());
    add("ExpiringCertificate", expiring_certificate());
    for (name, item) in [
        ("StationPage", "Station"),
        ("TransactionPage", "Transaction"),
        ("MeterValuePage", "MeterValue"),
        ("FaultPage", "Fault"),
        ("MessagePage", "Message"),
        ("ApiTokenPage", "ApiToken"),
        ("IdTokenPage", "IdToken"),
        ("StationEventPage", "StationEvent"),
        ("CommandPage", "Command"),
        ("TransferPage", "Transfer"),
        ("MonitorPage", "Monitor"),
        ("WebhookPage", "Webhook"),
        ("WebhookDeliveryPage", "WebhookDelivery"),
        ("AlertPage", "Alert"),
    ] {
        add(name, page(item));
    }
    schemas
}

fn station() -> Value {
    let ns = || nullable(string());
    view(
        &[
            ("id", string()),
            ("registration_status", json!({"type": "string", "enum": ["Accepted", "Pending", "Rejected"]})),
            ("ocpp_version", json!({"type": "string", "nullable": true, "enum": ["1.6", "2.0.1", null]})),
            ("vendor", ns()),
            ("model", ns()),
            ("serial_number", ns()),
            ("charge_box_serial_number", ns()),
            ("firmware_version", ns()),
            ("iccid", ns()),
            ("imsi", ns()),
            ("meter_type", ns()),
            ("meter_serial_number", ns()),
            ("firmware_status", ns()),
            ("diagnostics_status", ns()),
            ("log_status", ns()),
            ("connected", boolean()),
            ("connected_at", nullable(timestamp())),
            ("last_boot_at", nullable(timestamp())),
            ("boot_reason", ns()),
            ("last_seen_at", nullable(timestamp())),
            ("created_at", timestamp()),
            ("security_profile", json!({"type": "integer", "enum": [0, 1, 2, 3]})),
            ("basic_auth_password_set", boolean()),
            ("decommissioned_at", nullable(timestamp())),
            ("connectors", array_of("Connector")),
        ],
        json!({"id": "CP1", "registration_status": "Accepted", "ocpp_version": "1.6", "vendor": "Acme", "model": "AC22",
               "serial_number": null, "charge_box_serial_number": null, "firmware_version": "1.2.3", "iccid": null, "imsi": null,
               "meter_type": null, "meter_serial_number": null, "firmware_status": null, "diagnostics_status": null, "log_status": null,
               "connected": true, "connected_at": AT, "last_boot_at": AT, "boot_reason": null, "last_seen_at": AT, "created_at": AT,
               "security_profile": 0, "basic_auth_password_set": false, "decommissioned_at": null, "connectors": [connector_example()]}),
    )
}

fn connector_example() -> Value {
    json!({"evse_id": null, "connector_id": 1, "status": "Available", "error_code": "NoError", "info": null, "vendor_id": null,
           "vendor_error_code": null, "status_at": AT, "availability": "Operative", "availability_scheduled": false})
}

fn connector() -> Value {
    view(
        &[
            (
                "evse_id",
                json!({"type": "integer", "nullable": true, "description": "null for a 1.6 station (no EVSE level)"}),
            ),
            ("connector_id", integer()),
            ("status", string()),
            ("error_code", nullable(string())),
            ("info", nullable(string())),
            ("vendor_id", nullable(string())),
            ("vendor_error_code", nullable(string())),
            ("status_at", timestamp()),
            ("availability", json!({"type": "string", "enum": ["Operative", "Inoperative"]})),
            ("availability_scheduled", boolean()),
        ],
        connector_example(),
    )
}

fn transaction() -> Value {
    let ns = || nullable(string());
    view(
        &[
            ("id", integer()),
            ("station_id", string()),
            ("evse_id", nullable(integer())),
            ("connector_id", nullable(integer())),
            ("station_transaction_id", ns()),
            ("id_token", ns()),
            ("start_auth_status", ns()),
            ("start_auth_reason", ns()),
            ("last_auth_status", ns()),
            ("active", boolean()),
            ("started_at", nullable(timestamp())),
            ("stopped_at", nullable(timestamp())),
            ("meter_start_wh", nullable(number())),
            ("meter_stop_wh", nullable(number())),
            ("energy_wh", nullable(number())),
            ("reservation_id", nullable(integer())),
            ("stop_reason", ns()),
            ("stop_id_token", ns()),
            ("flags", json!({"type": "array", "items": string()})),
            ("id_token_type", ns()),
            ("charging_state", ns()),
            ("last_trigger_reason", ns()),
            ("time_spent_charging_s", nullable(integer())),
            ("remote_start_id", nullable(integer())),
            ("energy_so_far_wh", nullable(number())),
            ("power_w", nullable(number())),
            ("duration_s", nullable(integer())),
            ("charging_s", nullable(integer())),
            ("idle_s", nullable(integer())),
        ],
        json!({"id": 7, "station_id": "CP1", "evse_id": null, "connector_id": 1, "station_transaction_id": "7", "id_token": "TAG1",
               "start_auth_status": "Accepted", "start_auth_reason": null, "last_auth_status": null, "active": false, "started_at": AT, "stopped_at": "2026-12-01T11:00:00.000Z",
               "meter_start_wh": 1000.0, "meter_stop_wh": 12000.0, "energy_wh": 11000.0, "reservation_id": null,
               "stop_reason": "Local", "stop_id_token": "TAG1", "flags": [], "id_token_type": null, "charging_state": null,
               "last_trigger_reason": null, "time_spent_charging_s": 3000, "remote_start_id": null, "energy_so_far_wh": 11000.0,
               "power_w": null, "duration_s": 3600, "charging_s": 3000, "idle_s": 600}),
    )
}

/// What the meter readings show that billing must not take on trust (`csms_core::integrity`).
pub(super) fn anomalies() -> Value {
    json!({"type": "array", "description": "What the meter readings show that billing must not take on trust",
           "items": object(&[("code", json!({"type": "string", "enum": csms_core::integrity::CODES})), ("at", timestamp()),
                             ("description", string())], &["code", "at", "description"])})
}

/// One transaction as `GET /transactions/{id}` shows it: with its anomalies so far.
fn transaction_detail() -> Value {
    let mut schema = transaction();
    schema["properties"]["anomalies"] = anomalies();
    if let Some(required) = schema["required"].as_array_mut() {
        required.push(json!("anomalies"));
    }
    schema["example"]["anomalies"] = json!([]);
    schema
}

fn meter_value() -> Value {
    view(
        &[
            ("evse_id", nullable(integer())),
            ("connector_id", integer()),
            ("timestamp", timestamp()),
            ("measurand", string()),
            ("phase", nullable(string())),
            ("location", string()),
            ("context", string()),
            ("format", string()),
            ("unit", string()),
            ("raw_value", string()),
            ("value", nullable(number())),
            ("normalised_unit", string()),
            ("signed_data", any_json("The signed meter value as the station sent it, or null")),
        ],
        json!({"evse_id": null, "connector_id": 1, "timestamp": AT, "measurand": "Energy.Active.Import.Register", "phase": null,
               "location": "Outlet", "context": "Sample.Periodic", "format": "Raw", "unit": "kWh", "raw_value": "12.5",
               "value": 12500.0, "normalised_unit": "Wh", "signed_data": null}),
    )
}

fn fault() -> Value {
    let ns = || nullable(string());
    view(
        &[
            ("id", integer()),
            ("station_id", string()),
            ("evse_id", nullable(integer())),
            ("connector_id", integer()),
            ("component", json!({"type": "string", "enum": ["station", "evse", "connector", "vehicle"]})),
            ("code", string()),
            ("category", fault_category()),
            ("source", json!({"type": "string", "enum": ["station", "strom"],
                "description": "station: reported by the station; strom: detected by Ström (a power loss, a lost connection)"})),
            ("vendor", json!({"type": "object", "properties": {"id": {"type": "string", "nullable": true},
                "code": {"type": "string", "nullable": true}, "info": {"type": "string", "nullable": true}}})),
            ("raw", any_json("The protocol's own fields: 1.6 errorCode, vendorErrorCode, vendorId, info; 2.0.1 component, variable, techCode, techInfo, actualValue (or connectorStatus); for a fault Ström detected: detected_by and reason")),
            ("variable", ns()),
            ("tech_code", ns()),
            ("tech_info", ns()),
            ("event_id", nullable(integer())),
            ("error_code", string()),
            ("severity", string()),
            ("status", string()),
            ("vendor_id", ns()),
            ("vendor_error_code", ns()),
            ("info", ns()),
            ("started_at", timestamp()),
            ("cleared_at", nullable(timestamp())),
            ("open", boolean()),
        ],
        json!({"id": 3, "station_id": "CP1", "evse_id": null, "connector_id": 1, "component": "connector", "code": "OverVoltage",
               "category": "electrical_protection", "source": "station", "vendor": {"id": null, "code": null, "info": null},
               "raw": {"errorCode": "OverVoltage", "vendorErrorCode": null, "vendorId": null, "info": null}, "variable": null, "tech_code": null,
               "tech_info": null, "event_id": null, "error_code": "OverVoltage", "severity": "Error", "status": "Faulted",
               "vendor_id": null, "vendor_error_code": null, "info": null, "started_at": AT, "cleared_at": null, "open": true}),
    )
}

fn message() -> Value {
    view(
        &[
            ("id", integer()),
            ("direction", json!({"type": "string", "enum": ["in", "out"]})),
            ("at", timestamp()),
            ("frame", any_json("The OCPP-J frame as JSON (secrets masked), or its text when it is not JSON")),
        ],
        json!({"id": 42, "direction": "in", "at": AT, "frame": [2, "19", "Heartbeat", {}]}),
    )
}

fn api_token() -> Value {
    view(
        &[
            ("id", integer()),
            ("role", json!({"type": "string", "enum": ["viewer", "operator", "admin"]})),
            ("name", nullable(string())),
            ("created_at", timestamp()),
            ("expires_at", nullable(timestamp())),
            ("revoked_at", nullable(timestamp())),
        ],
        json!({"id": 1, "role": "admin", "name": "ops team", "created_at": AT, "expires_at": null, "revoked_at": null}),
    )
}

/// The caller's own token (`auth::me`).
fn me() -> Value {
    let mut schema = view(
        &[("name", nullable(string())), ("role", json!({"type": "string", "enum": ["viewer", "operator", "admin"]}))],
        json!({"name": "dashboard", "role": "viewer"}),
    );
    schema["description"] =
        json!("The token the request was made with: its name and role (with --api-open: no name, admin)");
    schema
}

pub(super) const TOKEN_STATUSES: [&str; 8] = [
    "Accepted",
    "Blocked",
    "Expired",
    "Invalid",
    "NoCredit",
    "NotAllowedTypeEVSE",
    "NotAtThisLocation",
    "NotAtThisTime",
];
pub(super) const TOKEN_TYPES: [&str; 8] =
    ["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"];

fn id_token() -> Value {
    view(
        &[
            ("id_token", json!({"type": "string", "minLength": 1, "maxLength": 36})),
            ("type", json!({"type": "string", "nullable": true, "enum": TOKEN_TYPES})),
            ("status", json!({"type": "string", "enum": TOKEN_STATUSES})),
            ("expiry", nullable(timestamp())),
            ("parent_id_token", nullable(string())),
        ],
        json!({"id_token": "TAG1", "type": null, "status": "Accepted", "expiry": null, "parent_id_token": null}),
    )
}

fn station_event() -> Value {
    view(
        &[
            ("id", integer()),
            ("kind", string()),
            ("status", nullable(string())),
            ("request_id", nullable(integer())),
            ("evse_id", nullable(integer())),
            ("detail", nullable(string())),
            ("at", timestamp()),
        ],
        json!({"id": 5, "kind": "FirmwareStatusNotification", "status": "Installed", "request_id": null, "evse_id": null,
               "detail": null, "at": AT}),
    )
}

fn variable() -> Value {
    let ns = || nullable(string());
    view(
        &[
            ("component", string()),
            ("component_instance", ns()),
            ("evse_id", nullable(integer())),
            ("connector_id", nullable(integer())),
            ("variable", string()),
            ("variable_instance", ns()),
            ("attribute_type", string()),
            ("value", ns()),
            ("mutability", ns()),
            ("persistent", nullable(boolean())),
            ("constant", nullable(boolean())),
            ("data_type", ns()),
            ("unit", ns()),
            ("min_limit", nullable(number())),
            ("max_limit", nullable(number())),
            ("values_list", ns()),
            ("supports_monitoring", nullable(boolean())),
            ("updated_at", timestamp()),
        ],
        json!({"component": "OCPPCommCtrlr", "component_instance": null, "evse_id": null, "connector_id": null,
               "variable": "HeartbeatInterval", "variable_instance": null, "attribute_type": "Actual", "value": "300",
               "mutability": "ReadWrite", "persistent": true, "constant": false, "data_type": "integer", "unit": "s",
               "min_limit": null, "max_limit": null, "values_list": null, "supports_monitoring": false, "updated_at": AT}),
    )
}

fn command() -> Value {
    view(
        &[
            ("id", integer()),
            ("station_id", string()),
            ("action", string()),
            ("request", any_json("The request payload sent (secrets masked)")),
            ("status", string()),
            ("response", any_json("The station's answer payload, or null while none came")),
            ("error_code", nullable(string())),
            ("error_description", nullable(string())),
            ("requested_at", timestamp()),
            ("finished_at", nullable(timestamp())),
        ],
        json!({"id": 9, "station_id": "CP1", "action": "Reset", "request": {"type": "Soft"}, "status": "Accepted",
               "response": {"status": "Accepted"}, "error_code": null, "error_description": null, "requested_at": AT,
               "finished_at": AT}),
    )
}

fn configuration_key() -> Value {
    view(
        &[("key", string()), ("value", nullable(string())), ("readonly", boolean()), ("updated_at", timestamp())],
        json!({"key": "HeartbeatInterval", "value": "300", "readonly": false, "updated_at": AT}),
    )
}

fn reservation() -> Value {
    view(
        &[
            ("reservation_id", integer()),
            ("evse_id", nullable(integer())),
            ("connector_id", nullable(integer())),
            ("id_token", string()),
            ("group_id_token", nullable(string())),
            ("expiry", timestamp()),
            ("status", string()),
            ("transaction_id", nullable(integer())),
            ("updated_at", timestamp()),
        ],
        json!({"reservation_id": 1, "evse_id": null, "connector_id": 1, "id_token": "TAG1", "group_id_token": null,
               "expiry": "2026-12-01T11:00:00.000Z", "status": "Reserved", "transaction_id": null, "updated_at": AT}),
    )
}

fn charging_profile() -> Value {
    view(
        &[
            ("profile_id", integer()),
            ("evse_id", integer()),
            ("stack_level", integer()),
            ("purpose", string()),
            ("transaction_id", nullable(string())),
            ("profile", any_json("The profile as sent to the station")),
            ("updated_at", timestamp()),
        ],
        json!({"profile_id": 1, "evse_id": 0, "stack_level": 0, "purpose": "TxDefaultProfile", "transaction_id": null,
               "profile": {"chargingProfileId": 1}, "updated_at": AT}),
    )
}

fn availability() -> Value {
    view(
        &[
            ("evse_id", nullable(integer())),
            ("connector_id", nullable(integer())),
            ("operational_status", json!({"type": "string", "enum": ["Operative", "Inoperative"]})),
            ("status", string()),
            ("updated_at", timestamp()),
        ],
        json!({"evse_id": null, "connector_id": null, "operational_status": "Inoperative", "status": "Accepted", "updated_at": AT}),
    )
}

fn transfer() -> Value {
    view(
        &[
            ("id", integer()),
            ("kind", string()),
            ("request_id", nullable(integer())),
            ("location", string()),
            ("file_name", nullable(string())),
            ("status", string()),
            ("requested_at", timestamp()),
            ("updated_at", timestamp()),
        ],
        json!({"id": 2, "kind": "firmware", "request_id": null, "location": "https://files.example/fw.bin", "file_name": null,
               "status": "Installed", "requested_at": AT, "updated_at": AT}),
    )
}

fn monitor() -> Value {
    view(
        &[
            ("monitor_id", integer()),
            ("component", string()),
            ("component_instance", nullable(string())),
            ("evse_id", nullable(integer())),
            ("connector_id", nullable(integer())),
            ("variable", string()),
            ("variable_instance", nullable(string())),
            ("kind", string()),
            ("value", number()),
            ("severity", integer()),
            ("transaction_only", boolean()),
            ("updated_at", timestamp()),
        ],
        json!({"monitor_id": 1, "component": "EVSE", "component_instance": null, "evse_id": 1, "connector_id": null,
               "variable": "Power", "variable_instance": null, "kind": "UpperThreshold", "value": 22000.0, "severity": 5,
               "transaction_only": false, "updated_at": AT}),
    )
}

fn local_list() -> Value {
    view(
        &[
            ("version", integer()),
            ("entries", array_of("IdToken")),
            (
                "reported",
                json!({"type": "object", "nullable": true, "additionalProperties": false,
                       "required": ["version", "source", "at"],
                       "properties": {"version": integer(), "source": string(), "at": timestamp()},
                       "description": "The version the station last stated itself, how and when; null before any"}),
            ),
            ("in_sync", nullable(boolean())),
        ],
        json!({"version": 3, "entries": [{"id_token": "TAG1", "type": null, "status": "Accepted", "expiry": null, "parent_id_token": null}],
               "reported": {"version": 3, "source": "SendLocalList", "at": AT}, "in_sync": true}),
    )
}

fn local_list_sent() -> Value {
    let mut schema = view(
        &[
            ("version", integer()),
            ("messages", integer()),
            ("status", string()),
            ("updated", integer()),
            ("removed", integer()),
            (
                "skipped",
                json!({"type": "array", "items": string(), "description": "Id tokens left out (too long for the station)"}),
            ),
        ],
        json!({"version": 4, "messages": 1, "status": "Accepted", "updated": 2, "removed": 0, "skipped": []}),
    );
    // A 502 (the station did not accept the list) says so in `error` as well.
    schema["properties"]["error"] =
        json!({"type": "string", "description": "Only when the station did not accept the list (502)"});
    schema
}

fn password_rotation() -> Value {
    view(
        &[
            ("station_id", string()),
            ("command_id", integer()),
            ("status", string()),
            ("changed", boolean()),
            (
                "password",
                json!({"type": "string", "nullable": true, "description": "The new password, shown this once; null unless changed"}),
            ),
            ("security_profile", integer()),
        ],
        json!({"station_id": "CP1", "command_id": 12, "status": "Accepted", "changed": true,
               "password": "e3b0c44298fc1c149afbf4c8", "security_profile": 1}),
    )
}

fn command_reply() -> Value {
    json!({"type": "object", "description": "The station's CALLRESULT payload, as the OCPP schema of the action's response has it",
           "example": {"status": "Accepted"}})
}

fn command_failure() -> Value {
    let mut schema = object(
        &[
            ("error", string()),
            (
                "command_id",
                json!({"type": "integer", "description": "The command log's entry; absent when the connection was lost before an answer"}),
            ),
            (
                "code",
                json!({"type": "string", "description": "The CALLERROR code (when the station answered with one)"}),
            ),
            ("description", json!({"type": "string", "description": "The CALLERROR's description"})),
            ("response", any_json("The answer that broke the schema, or the malformed frame")),
        ],
        &["error"],
    );
    schema["example"] = json!({"error": "the station answered with CALLERROR NotSupported", "code": "NotSupported",
                               "description": "", "command_id": 12});
    schema
}

fn issued_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("station_id", string()),
        ("certificate_type", string()),
        ("serial_number", string()),
        ("subject", string()),
        ("issuer", string()),
        ("not_before", timestamp()),
        ("not_after", timestamp()),
        ("days_left", nullable(integer())),
        ("fingerprint_sha256", string()),
        ("status", string()),
        ("issued_at", timestamp()),
        ("answered_at", nullable(timestamp())),
    ]
}

fn issued_example() -> Value {
    json!({"station_id": "CP1", "certificate_type": "ChargingStationCertificate", "serial_number": "1a2b", "subject": "CN=CP1,O=Acme",
           "issuer": "CN=Ström CA", "not_before": AT, "not_after": "2027-12-01T10:00:00.000Z", "days_left": 365,
           "fingerprint_sha256": "ab12", "status": "accepted", "issued_at": AT, "answered_at": AT})
}

fn issued_certificate() -> Value {
    view(&issued_fields(), issued_example())
}

fn installed_fields() -> Vec<(&'static str, Value)> {
    let ns = || nullable(string());
    vec![
        ("station_id", string()),
        ("certificate_type", string()),
        ("hash_algorithm", string()),
        ("issuer_name_hash", string()),
        ("issuer_key_hash", string()),
        ("serial_number", string()),
        ("parent_hash_key", ns()),
        ("subject", ns()),
        ("not_after", nullable(timestamp())),
        ("days_left", nullable(integer())),
        ("source", string()),
        ("updated_at", timestamp()),
    ]
}

fn installed_certificate() -> Value {
    view(
        &installed_fields(),
        json!({"station_id": "CP1", "certificate_type": "CSMSRootCertificate", "hash_algorithm": "SHA256", "issuer_name_hash": "aa",
               "issuer_key_hash": "bb", "serial_number": "01", "parent_hash_key": null, "subject": null, "not_after": null,
               "days_left": null, "source": "GetInstalledCertificateIds", "updated_at": AT}),
    )
}

fn station_certificates() -> Value {
    view(
        &[
            ("station_id", string()),
            ("issued", array_of("IssuedCertificate")),
            ("installed", array_of("InstalledCertificate")),
            ("security_events", array_of("StationEvent")),
        ],
        json!({"station_id": "CP1", "issued": [], "installed": [], "security_events": []}),
    )
}

/// An issued or an installed certificate, with `kind` saying which.
fn expiring_certificate() -> Value {
    let with_kind = |mut fields: Vec<(&'static str, Value)>, kind: &str, mut example: Value| {
        fields.push(("kind", json!({"type": "string", "enum": [kind]})));
        example["kind"] = json!(kind);
        view(&fields, example)
    };
    let issued = with_kind(issued_fields(), "issued", issued_example());
    let example = issued["example"].clone();
    let installed = with_kind(installed_fields(), "installed", json!({}));
    json!({"oneOf": [issued, without_example(installed)], "example": example})
}

fn without_example(mut schema: Value) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.remove("example");
    }
    schema
}

/// A fault category (`csms_core::fault_kinds::FaultCategory`).
pub(crate) fn fault_category() -> Value {
    let names: Vec<&str> = csms_core::fault_kinds::FaultCategory::ALL.iter().map(|c| c.as_str()).collect();
    json!({"type": "string", "enum": names})
}
