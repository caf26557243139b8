//! The operations that tell of what happens: the domain events (stored and live), webhook
//! subscriptions and their delivery log, alert rules and alerts; with their parameters and
//! request bodies.

use super::schemas::{array_of, boolean, fault_category, nullable, object, string, view, AT};
use super::{cursor, list, ok, op, path_param, query, with_description, Op, Success, STATION_ID_PATTERN};
use serde_json::{json, Value};

pub(super) fn operations() -> Vec<(&'static str, &'static str, Op)> {
    vec![
        ("/api/v1/events", "get", op("listEvents", "Domain events after an id, oldest first", "viewer",
            event_filters(vec![
                query("after", "Only events after this id (default 0: from the oldest kept)",
                    json!({"type": "integer", "format": "int64", "minimum": 0})),
                query("limit", "At most this many (1-1000, default 500)", json!({"type": "integer", "minimum": 1, "maximum": 1000})),
            ]),
            ok("Events; next_after is the after of the next page, null on the last", "EventPage")).errors(&["400"])),
        ("/api/v1/events/stream", "get", op("streamEvents",
            "Follow the domain events live (Server-Sent Events); a Last-Event-ID header resumes after that id", "viewer",
            event_filters(vec![
                json!({"name": "Last-Event-ID", "in": "header", "required": false,
                       "description": "Resume after this event id (a reconnecting EventSource sends it); without it or after, from now on",
                       "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}),
                query("after", "As Last-Event-ID, for clients that cannot send headers",
                    json!({"type": "integer", "format": "int64", "minimum": 0})),
            ]),
            Success::EventStream("One event per message: its id, its kind as the event name, and its JSON as data; a comment every 15 s keeps the connection open.", "Event"))
            .errors(&["400"])),
        ("/api/v1/webhooks", "get", {
            let mut hooks = list("listWebhooks", "Webhook subscriptions, oldest first (never their secrets)", "creation time",
                cursor::<i64>("webhooks"), vec![], vec![], "WebhookPage");
            hooks.role = Some("admin");
            hooks
        }),
        ("/api/v1/webhooks", "post", op("createWebhook",
            "Subscribe a URL to events: each is POSTed as its JSON, signed (x-strom-signature: sha256=HMAC-SHA256(secret, body)), retried with back-off",
            "admin", vec![], Success::Json("201", "Subscribed; it receives the events from now on", "Webhook"))
            .errors(&["400", "422"]).body(webhook_body(), json!({"url": "https://hooks.example.com/strom",
                "secret": "a-long-random-secret", "kinds": ["fault", "station.disconnected"], "categories": ["thermal"],
                "min_severity": "Warning"}))),
        ("/api/v1/webhooks/{id}", "get", op("getWebhook", "Show a webhook subscription", "admin", vec![webhook_id()],
            ok("The subscription", "Webhook")).errors(&["400", "404"])),
        ("/api/v1/webhooks/{id}", "delete", op("deleteWebhook", "Remove a webhook subscription and its delivery log", "admin",
            vec![webhook_id()], Success::Empty("204", "Removed")).errors(&["400", "404"])),
        ("/api/v1/webhooks/{id}/deliveries", "get", {
            let mut log = list("listWebhookDeliveries", "A subscription's delivery attempts, newest first", "attempt time",
                cursor::<i64>("webhook-deliveries"), vec![webhook_id()], vec![], "WebhookDeliveryPage");
            log.role = Some("admin");
            log
        }),
        ("/api/v1/alert-rules", "get", op("listAlertRules", "Alert rules, oldest first", "viewer", vec![],
            ok("The rules", "AlertRules"))),
        ("/api/v1/alert-rules", "post", op("createAlertRule",
            "Add an alert rule: a fault open longer than N minutes, a station offline longer than N minutes, more than K faults at a station in 24 h",
            "admin", vec![], Success::Json("201", "Added; checked every alert_check_secs", "AlertRule"))
            .errors(&["400", "422"]).body(alert_rule_body(), json!({"name": "Overheating for 10 minutes",
                "kind": "fault_open_longer", "category": "thermal", "minutes": 10}))),
        ("/api/v1/alert-rules/{id}", "get", op("getAlertRule", "Show an alert rule", "viewer", vec![alert_rule_id()],
            ok("The rule", "AlertRule")).errors(&["400", "404"])),
        ("/api/v1/alert-rules/{id}", "delete", op("deleteAlertRule", "Remove an alert rule; its open alerts are resolved", "admin",
            vec![alert_rule_id()], Success::Empty("204", "Removed")).errors(&["400", "404"])),
        ("/api/v1/alerts", "get", list("listAlerts", "Alerts the rules raised, newest first", "raise time",
            cursor::<i64>("alerts"), vec![], vec![query("open", "Only open (true) or resolved (false)", boolean())], "AlertPage")),
    ]
}

fn alert_rule_id() -> Value {
    path_param("id", "The rule's id", json!({"type": "integer", "format": "int64"}))
}

/// A new alert rule: `kind` with the fields it takes (others are a 422).
fn alert_rule_body() -> Value {
    object(
        &[
            ("name", json!({"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^\\x00]*$"})),
            ("kind", json!({"type": "string", "enum": csms_core::alerts::Condition::KINDS})),
            (
                "category",
                nullable(with_description(fault_category(), "fault_open_longer: only faults of this category")),
            ),
            (
                "minutes",
                nullable(json!({"type": "integer", "minimum": 1, "maximum": 525600,
                                "description": "fault_open_longer, station_offline_longer (required there)"})),
            ),
            (
                "count",
                nullable(json!({"type": "integer", "minimum": 1, "maximum": 100000,
                                "description": "faults_per_day (required there): more than this many"})),
            ),
            (
                "station_id",
                nullable(json!({"type": "string", "minLength": 1, "maxLength": 48, "pattern": STATION_ID_PATTERN})),
            ),
        ],
        &["name", "kind"],
    )
}

fn webhook_id() -> Value {
    path_param("id", "The subscription's id", json!({"type": "integer", "format": "int64"}))
}

/// A new webhook subscription.
fn webhook_body() -> Value {
    let kinds: Vec<&str> = csms_core::events::EventKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut families: Vec<&str> = csms_core::events::EventKind::ALL.iter().map(|k| k.family()).collect();
    families.dedup();
    let kind_names: Vec<&str> = kinds.iter().chain(families.iter()).copied().collect();
    let mut body = object(
        &[
            (
                "url",
                json!({"type": "string", "minLength": 8, "maxLength": csms_core::webhooks::MAX_URL_LEN,
                       "pattern": "^https?://[^\\s@/?#]+([/?#][^\\s]*)?$",
                       "description": "http or https; its host must be among webhook_hosts when those are configured (else 422)"}),
            ),
            (
                "secret",
                json!({"type": "string", "minLength": 16, "maxLength": 256, "pattern": "^[^\\x00-\\x1f\\x7f]*$",
                       "description": "Signs each delivery; write-only"}),
            ),
            (
                "kinds",
                json!({"type": "array", "items": {"type": "string", "enum": kind_names},
                       "description": "Kinds or families (fault: fault.opened and fault.cleared); none or empty: all"}),
            ),
            (
                "categories",
                json!({"type": "array", "items": fault_category(), "description": "Fault events only of these categories"}),
            ),
            (
                "min_severity",
                nullable(json!({"type": "string", "enum": ["Error", "Warning", "Info"],
                                "description": "Fault events only at least this grave"})),
            ),
            (
                "station_id",
                nullable(json!({"type": "string", "minLength": 1, "maxLength": 48, "pattern": STATION_ID_PATTERN})),
            ),
        ],
        &["url", "secret"],
    );
    body["description"] =
        json!("Category and severity filters apply to fault events; name the kinds to receive only those.");
    body
}

/// The filters of the event endpoints, after `first`.
fn event_filters(mut first: Vec<Value>) -> Vec<Value> {
    let kinds: Vec<&str> = csms_core::events::EventKind::ALL.iter().map(|k| k.as_str()).collect();
    first.extend([
        query("station_id", "Only this station's events", string()),
        query(
            "kind",
            &format!(
                "Only these kinds, comma-separated; a name without a dot is a family (fault: fault.opened and fault.cleared). Kinds: {}",
                kinds.join(", ")
            ),
            json!({"type": "string", "pattern": csms_core::events::filter_pattern()}),
        ),
        query("category", "Only fault events of this category", fault_category()),
    ]);
    first
}

/// The component schemas of these operations' answers.
pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    let mut schemas = Vec::new();
    let event = event();
    let event_page_example = json!({"items": [event["example"].clone()], "next_after": null});
    schemas.push(("Event", event));
    let mut event_page = object(
        &[
            ("items", array_of("Event")),
            (
                "next_after",
                json!({"type": "integer", "format": "int64", "nullable": true,
                           "description": "Pass as after for the next page; null on the last page"}),
            ),
        ],
        &["items", "next_after"],
    );
    event_page["example"] = event_page_example;
    schemas.push(("EventPage", event_page));
    schemas.push(("Webhook", webhook()));
    schemas.push(("WebhookDelivery", webhook_delivery()));
    schemas.push(("AlertRule", alert_rule()));
    schemas.push(("Alert", alert()));
    schemas
}

/// A domain event (`csms_core::events`), as listed and as each Server-Sent Event's data.
fn event() -> Value {
    let kinds: Vec<&str> = csms_core::events::EventKind::ALL.iter().map(|k| k.as_str()).collect();
    view(
        &[
            (
                "id",
                json!({"type": "integer", "format": "int64", "minimum": 1,
                       "description": "Grows with every event, in the order they were committed"}),
            ),
            ("kind", json!({"type": "string", "enum": kinds})),
            ("at", json!({"type": "string", "format": "date-time", "description": "When Ström recorded it"})),
            ("station_id", string()),
            (
                "data",
                json!({"type": "object", "additionalProperties": true,
                       "description": "What happened; the fields of each kind are listed in the README (\"Events\")"}),
            ),
        ],
        json!({"id": 42, "kind": "fault.opened", "at": AT, "station_id": "CP-1",
               "data": {"fault_id": 7, "evse_id": 0, "connector_id": 1, "code": "HighTemperature",
                        "category": "thermal", "severity": "Error", "source": "station", "cleared_at": null}}),
    )
}

fn alert_rule() -> Value {
    let number = || nullable(json!({"type": "integer", "format": "int64"}));
    view(
        &[
            ("id", json!({"type": "integer", "format": "int64"})),
            ("name", string()),
            ("kind", json!({"type": "string", "enum": csms_core::alerts::Condition::KINDS})),
            ("category", nullable(string())),
            ("minutes", number()),
            ("count", number()),
            ("station_id", nullable(string())),
            ("created_at", json!({"type": "string", "format": "date-time"})),
        ],
        json!({"id": 1, "name": "Overheating for 10 minutes", "kind": "fault_open_longer", "category": "thermal",
               "minutes": 10, "count": null, "station_id": null, "created_at": AT}),
    )
}

fn alert() -> Value {
    view(
        &[
            ("id", json!({"type": "integer", "format": "int64"})),
            ("rule_id", json!({"type": "integer", "format": "int64"})),
            ("subject", json!({"type": "string", "description": "fault:ID or station:ID"})),
            ("station_id", string()),
            (
                "since",
                json!({"type": "string", "format": "date-time", "description": "Since when the condition holds"}),
            ),
            ("detail", string()),
            ("raised_at", json!({"type": "string", "format": "date-time"})),
            ("resolved_at", nullable(json!({"type": "string", "format": "date-time"}))),
            ("open", json!({"type": "boolean"})),
        ],
        json!({"id": 4, "rule_id": 1, "subject": "fault:31", "station_id": "CP-1", "since": AT,
               "detail": "fault 31 (HighTemperature, thermal) open longer than 10 min", "raised_at": AT,
               "resolved_at": null, "open": true}),
    )
}

fn webhook() -> Value {
    let names = || json!({"type": "array", "items": {"type": "string"}});
    view(
        &[
            ("id", json!({"type": "integer", "format": "int64"})),
            ("url", string()),
            ("secret_set", json!({"type": "boolean", "description": "The secret is write-only: never shown"})),
            ("kinds", names()),
            ("categories", names()),
            ("min_severity", nullable(string())),
            ("station_id", nullable(string())),
            (
                "last_event_id",
                json!({"type": "integer", "format": "int64", "description": "The last event it moved past (delivered or given up)"}),
            ),
            ("created_at", json!({"type": "string", "format": "date-time"})),
        ],
        json!({"id": 1, "url": "https://hooks.example.com/strom", "secret_set": true, "kinds": ["fault"],
               "categories": ["thermal"], "min_severity": "Warning", "station_id": null, "last_event_id": 812,
               "created_at": AT}),
    )
}

fn webhook_delivery() -> Value {
    view(
        &[
            ("id", json!({"type": "integer", "format": "int64"})),
            ("webhook_id", json!({"type": "integer", "format": "int64"})),
            ("event_id", json!({"type": "integer", "format": "int64"})),
            ("attempt", json!({"type": "integer", "minimum": 1})),
            (
                "outcome",
                json!({"type": "string", "enum": ["delivered", "failed", "given_up"],
                       "description": "failed: to be tried again; given_up: the last attempt failed"}),
            ),
            ("status_code", nullable(json!({"type": "integer"}))),
            ("error", nullable(string())),
            ("duration_ms", json!({"type": "integer", "format": "int64"})),
            ("at", json!({"type": "string", "format": "date-time"})),
        ],
        json!({"id": 3, "webhook_id": 1, "event_id": 812, "attempt": 1, "outcome": "failed", "status_code": 500,
               "error": "the endpoint answered HTTP 500", "duration_ms": 12, "at": AT}),
    )
}
