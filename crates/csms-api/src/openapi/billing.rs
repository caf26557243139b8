//! The operations on tariffs and charge detail records, with their schemas: the OCPI 2.2.1
//! Tariff (as sent and as shown) and CDR, with Ström's fields beside OCPI's.

use super::schemas::{anomalies, array_of, boolean, integer, nullable, number, object, string, timestamp, view, AT};
use super::{cursor, list, ok, op, path_param, query, station, Op, Success};
use serde_json::{json, Value};

pub(super) fn operations() -> Vec<(&'static str, &'static str, Op)> {
    vec![
        ("/api/v1/tariffs", "get", op("listTariffs", "The tariffs in force, by id", "viewer", vec![], ok("The tariffs", "Tariffs"))),
        ("/api/v1/tariffs", "post", op("createTariff",
            "Add a tariff (an OCPI 2.2.1 Tariff with Ström's stations, id_token_groups, tax_rate, tax_included); 409 if its id is in force",
            "admin", vec![], Success::Json("201", "Added as version 1 (or the next version of a withdrawn id)", "Tariff"))
            .errors(&["400", "409", "422"]).body(tariff_body(), tariff_example())),
        ("/api/v1/tariffs/{id}", "get", op("getTariff", "Show a tariff", "viewer", vec![tariff_id()],
            ok("The tariff", "Tariff")).errors(&["404"])),
        ("/api/v1/tariffs/{id}", "put", op("putTariff",
            "Create or replace a tariff as a new version; records already written keep the version that priced them",
            "admin", vec![tariff_id()], Success::Json("200", "Replaced (201 when created)", "Tariff"))
            .or_created()
            .errors(&["400", "422"]).body(tariff_body(), tariff_example())),
        ("/api/v1/tariffs/{id}", "delete", op("deleteTariff", "Withdraw a tariff: it prices no more sessions", "admin",
            vec![tariff_id()], Success::Empty("204", "Withdrawn")).errors(&["404"])),
        ("/api/v1/stations/{id}/meter-key", "get", op("getMeterKey", "The station's meter key, which its signed meter values (OCMF) are verified against",
            "viewer", vec![station()], ok("The key", "MeterKey")).errors(&["404"])),
        ("/api/v1/stations/{id}/meter-key", "put", op("putMeterKey",
            "Register the station's meter public key (P-256 or P-384; hex or base64 DER SubjectPublicKeyInfo, or PEM)",
            "admin", vec![station()], ok("Registered; records written from now on are verified against it", "MeterKey"))
            .errors(&["400", "404", "422"]).body(object(&[
                ("public_key", json!({"type": "string", "minLength": 1})),
                ("meter_serial", nullable(json!({"type": "string",
                    "description": "The meter's serial (OCMF MS); when given, records of another meter fail verification"}))),
            ], &["public_key"]), json!({"public_key": "3059301306072a8648ce3d020106082a8648ce3d03010703420004…", "meter_serial": "METER-1"}))),
        ("/api/v1/stations/{id}/meter-key", "delete", op("deleteMeterKey", "Remove the station's meter key", "admin",
            vec![station()], Success::Empty("204", "Removed")).errors(&["404"])),
        ("/api/v1/stations/{id}/time-zone", "get", op("getStationTimeZone",
            "The time zone the station's tariffs are read in (their times of day, weekdays and dates)",
            "viewer", vec![station()], ok("The time zone", "StationTimeZone")).errors(&["404"])),
        ("/api/v1/stations/{id}/time-zone", "put", op("putStationTimeZone",
            "Set the time zone the station's tariffs are read in (null or absent: the server's time_zone); records priced from then on use it",
            "admin", vec![station()], ok("Set", "StationTimeZone"))
            .errors(&["400", "404", "422"]).body(object(&[
                ("time_zone", nullable(json!({"type": "string", "minLength": 1}))),
            ], &[]), json!({"time_zone": "Europe/Berlin"}))),
        ("/api/v1/cdrs", "get", list("listCdrs", "Charge detail records in the order they were written", "session end",
            cursor::<i64>("cdrs"), vec![], vec![
                query("station_id", "Only this station's", string()),
                query("id_token", "Only sessions of this id token", string()),
                query("transaction_id", "Only this transaction's (its record and any corrections)", integer()),
            ], "CdrPage")),
        ("/api/v1/cdrs/{id}", "get", op("getCdr", "Show a charge detail record", "viewer",
            vec![path_param("id", "The record's id", json!({"type": "integer", "format": "int64"}))],
            ok("The record", "Cdr")).errors(&["400", "404"])),
    ]
}

fn tariff_id() -> Value {
    path_param(
        "id",
        "The tariff's id (OCPI: 1 to 36 printable ASCII characters)",
        json!({"type": "string", "pattern": ID_PATTERN}),
    )
}

const ID_PATTERN: &str = "^[!-~]{1,36}$";

fn decimal(description: &str) -> Value {
    json!({"type": "number", "minimum": 0, "description": description})
}

fn restrictions() -> Value {
    let time =
        json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "HH:MM, local time"});
    let date = json!({"type": "string", "format": "date", "description": "YYYY-MM-DD, local"});
    let seconds = json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 315_360_000});
    let days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
    json!({"type": "object", "description": "When the element applies; max_* bounds are exclusive, end_time before start_time spans midnight",
    "properties": {
        "start_time": time, "end_time": time, "start_date": date, "end_date": date,
        "min_kwh": decimal("Energy charged so far, kWh"), "max_kwh": decimal("kWh"),
        "min_current": decimal("A"), "max_current": decimal("A"),
        "min_power": decimal("kW"), "max_power": decimal("kW"),
        "min_duration": seconds, "max_duration": seconds,
        "day_of_week": {"type": "array", "items": {"type": "string", "enum": days}},
        "reservation": {"type": "string", "enum": ["RESERVATION", "RESERVATION_EXPIRES"]},
    }})
}

fn price() -> Value {
    object(&[("excl_vat", decimal("Before tax")), ("incl_vat", decimal("After tax"))], &["excl_vat"])
}

/// A tariff as the API takes it. OCPI's other fields (country_code, party_id, tariff_alt_text,
/// energy_mix, …) are kept as sent.
fn tariff_body() -> Value {
    let component = json!({"type": "object", "required": ["type", "price", "step_size"], "properties": {
        "type": {"type": "string", "enum": ["ENERGY", "FLAT", "PARKING_TIME", "TIME"]},
        "price": decimal("Per kWh (ENERGY), per hour (TIME, PARKING_TIME) or per session (FLAT), in the tariff's currency"),
        "vat": {"type": "number", "minimum": 0, "maximum": 100, "description": "Tax rate, percent; absent: the tariff's tax_rate"},
        "step_size": {"type": "integer", "minimum": 1, "maximum": 4_294_967_295u64, "description": "Billed in blocks of this many Wh or seconds"},
    }});
    let element = json!({"type": "object", "required": ["price_components"], "properties": {
        "price_components": {"type": "array", "minItems": 1, "items": component},
        "restrictions": restrictions(),
    }});
    let names = || json!({"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}});
    json!({"type": "object", "required": ["currency", "elements"], "additionalProperties": true, "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN, "description": "Required when POSTed; under PUT, the path's"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"},
        "elements": {"type": "array", "minItems": 1, "items": element},
        "min_price": price(), "max_price": price(),
        "start_date_time": timestamp(), "end_date_time": timestamp(),
        "tax_rate": {"type": "number", "minimum": 0, "maximum": 100, "description": "Ström: the rate of components without vat"},
        "tax_included": {"description": "Ström / OCPI 2.3: the prices include tax (true, or YES; NO and N/A: they do not)"},
        "stations": names(), "id_token_groups": names(),
    }})
}

fn tariff_example() -> Value {
    json!({"id": "AC-STANDARD", "currency": "EUR", "tax_rate": 19, "stations": ["CP-1"],
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.39, "step_size": 1},
                                  {"type": "PARKING_TIME", "price": 6.0, "step_size": 60}],
             "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
            {"price_components": [{"type": "ENERGY", "price": 0.29, "step_size": 1}]}],
        "min_price": {"excl_vat": 0.5}})
}

pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    let mut tariff = tariff_body();
    tariff["required"] = json!(["id", "currency", "elements", "version", "last_updated"]);
    tariff["properties"]["version"] = json!({"type": "integer", "format": "int64", "minimum": 1});
    tariff["properties"]["last_updated"] = timestamp();
    let mut example = tariff_example();
    example["version"] = json!(1);
    example["last_updated"] = json!(AT);
    tariff["example"] = example;
    let meter_key = view(
        &[
            ("station_id", string()),
            ("public_key", json!({"type": "string", "description": "Hex-encoded DER SubjectPublicKeyInfo"})),
            ("curve", nullable(json!({"type": "string"}))),
            ("meter_serial", nullable(string())),
            ("updated_at", timestamp()),
        ],
        json!({"station_id": "CP-1", "public_key": "3059301306072a8648ce3d0201…", "curve": "secp256r1",
               "meter_serial": "METER-1", "updated_at": AT}),
    );
    let time_zone = view(
        &[
            ("station_id", string()),
            (
                "time_zone",
                nullable(json!({"type": "string",
                "description": "IANA time zone name; null: the server's time_zone"})),
            ),
        ],
        json!({"station_id": "CP-1", "time_zone": "Europe/Berlin"}),
    );
    vec![
        ("Tariff", tariff),
        ("Cdr", cdr()),
        ("CdrPage", super::schemas::page("Cdr")),
        ("MeterKey", meter_key),
        ("StationTimeZone", time_zone),
    ]
}

fn cdr() -> Value {
    let amount =
        || nullable(object(&[("excl_vat", number()), ("incl_vat", nullable(number()))], &["excl_vat", "incl_vat"]));
    let dimension = object(
        &[
            ("type", json!({"type": "string", "enum": ["ENERGY", "TIME", "PARKING_TIME", "MAX_POWER"]})),
            ("volume", json!({"type": "number", "description": "kWh, hours, or kW for MAX_POWER"})),
        ],
        &["type", "volume"],
    );
    let period = object(
        &[
            ("start_date_time", timestamp()),
            ("dimensions", json!({"type": "array", "items": dimension})),
            ("tariff_id", nullable(string())),
        ],
        &["start_date_time", "dimensions", "tariff_id"],
    );
    let line = object(
        &[
            ("type", json!({"type": "string", "enum": ["ENERGY", "FLAT", "PARKING_TIME", "TIME"]})),
            ("element", json!({"type": "integer", "minimum": 0})),
            ("volume", number()),
            ("price", number()),
            ("vat", number()),
            ("excl_vat", number()),
            ("incl_vat", number()),
        ],
        &["type", "element", "volume", "price", "vat", "excl_vat", "incl_vat"],
    );
    let token = object(
        &[
            ("uid", string()),
            ("type", json!({"type": "string", "enum": ["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]})),
            ("contract_id", string()),
        ],
        &["uid", "type", "contract_id"],
    );
    let location = object(
        &[("id", string()), ("evse_uid", string()), ("evse_id", string()), ("connector_id", string())],
        &["id", "evse_uid", "evse_id", "connector_id"],
    );
    let hours = || json!({"type": "number", "minimum": 0, "description": "Hours"});
    let mut schema = view(
        &[
            ("id", json!({"type": "string", "description": "The record's id (a number, as OCPI's ids are strings)"})),
            ("created_at", timestamp()),
            ("start_date_time", timestamp()),
            ("end_date_time", timestamp()),
            ("session_id", string()),
            ("cdr_token", token),
            ("auth_method", json!({"type": "string", "enum": ["AUTH_REQUEST", "COMMAND", "WHITELIST"]})),
            ("cdr_location", location),
            ("currency", nullable(string())),
            ("tariffs", array_of("Tariff")),
            ("charging_periods", json!({"type": "array", "items": period})),
            ("total_cost", amount()),
            ("total_fixed_cost", amount()),
            ("total_energy", json!({"type": "number", "minimum": 0, "description": "kWh"})),
            ("total_energy_cost", amount()),
            ("total_time", hours()),
            ("total_time_cost", amount()),
            ("total_parking_time", hours()),
            ("total_parking_cost", amount()),
            ("credit", boolean()),
            ("last_updated", timestamp()),
            ("transaction_id", integer()),
            ("station_id", string()),
            ("evse_id", nullable(integer())),
            ("connector_id", nullable(integer())),
            ("id_token", nullable(string())),
            ("tariff_id", nullable(string())),
            ("tariff_version", nullable(integer())),
            ("energy_wh", json!({"type": "number", "minimum": 0})),
            ("energy_rule", json!({"type": "string", "description": "How the energy was got from the meter readings"})),
            ("energy_flags", json!({"type": "array", "items": {"type": "string"}})),
            (
                "energy_verified",
                json!({"type": "boolean", "description": "Whether signed meter data proved the energy"}),
            ),
            (
                "energy_verification",
                object(
                    &[
                        (
                            "status",
                            json!({"type": "string", "enum": ["verified", "unsigned", "unsupported", "no_meter_key", "failed", "mismatch"]}),
                        ),
                        ("signed_energy_wh", nullable(number())),
                        (
                            "records",
                            json!({"type": "integer", "minimum": 0, "description": "OCMF records the transaction carried"}),
                        ),
                        ("problems", json!({"type": "array", "items": {"type": "string"}})),
                    ],
                    &["status", "signed_energy_wh", "records", "problems"],
                ),
            ),
            ("anomalies", anomalies()),
            ("charging_time_s", integer()),
            ("parking_time_s", integer()),
            ("peak_power_w", nullable(number())),
            ("bound", nullable(json!({"type": "string", "enum": ["min_price", "max_price"]}))),
            (
                "cost_lines",
                json!({"type": "array", "items": line, "description": "Each price component's share, exact"}),
            ),
            (
                "corrects",
                nullable(json!({"type": "integer", "format": "int64", "description": "The record this one corrects"})),
            ),
        ],
        cdr_example(),
    );
    // Not required: records written before stations had zones do not say it.
    schema["properties"]["time_zone"] =
        json!({"type": "string", "description": "The IANA time zone the tariff's local times were read in"});
    schema
}

/// A record as the API shows it (in two parts: one `json!` of every field is too deep for the
/// macro).
fn cdr_example() -> Value {
    let mut example = json!({"id": "12", "created_at": AT, "start_date_time": AT, "end_date_time": AT, "session_id": "88",
        "cdr_token": {"uid": "TAG-1", "type": "RFID", "contract_id": "TAG-1"}, "auth_method": "AUTH_REQUEST",
        "cdr_location": {"id": "CP-1", "evse_uid": "CP-1*1", "evse_id": "CP-1*1", "connector_id": "1"},
        "currency": "EUR", "tariffs": [], "charging_periods": [{"start_date_time": AT,
            "dimensions": [{"type": "ENERGY", "volume": 11.0}, {"type": "TIME", "volume": 1.0}], "tariff_id": "AC-STANDARD"}],
        "total_cost": {"excl_vat": 4.29, "incl_vat": 5.11}, "total_fixed_cost": null,
        "total_energy": 11.0, "total_energy_cost": {"excl_vat": 4.29, "incl_vat": 5.11}, "total_time": 1.0,
        "total_time_cost": null, "total_parking_time": 0.0, "total_parking_cost": null, "credit": false});
    let stroms = json!({"last_updated": AT, "transaction_id": 88, "station_id": "CP-1", "evse_id": 1, "connector_id": 1,
        "id_token": "TAG-1", "tariff_id": "AC-STANDARD", "tariff_version": 1, "energy_wh": 11000,
        "energy_rule": "StopTransaction.meterStop - StartTransaction.meterStart", "energy_flags": [],
        "energy_verified": false, "energy_verification": {"status": "unsigned", "signed_energy_wh": null, "records": 0,
            "problems": []}, "anomalies": [], "charging_time_s": 3600, "parking_time_s": 0, "peak_power_w": 11000,
        "bound": null, "cost_lines": [{"type": "ENERGY", "element": 1, "volume": 11.0, "price": 0.39, "vat": 19,
            "excl_vat": 4.29, "incl_vat": 5.1051}], "corrects": null, "time_zone": "Europe/Berlin"});
    if let (Some(fields), Value::Object(more)) = (example.as_object_mut(), stroms) {
        fields.extend(more);
    }
    example
}
