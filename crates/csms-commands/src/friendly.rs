//! Version-independent commands for the everyday jobs (start and stop a session, reset, unlock,
//! availability, configuration): the operator says what, the gateway says it in the station's
//! OCPP version and sends it as an ordinary command.

use crate::commands::{CommandError, CommandOutcome};
use crate::Commands;
use ocpp::OcppVersion;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum FriendlyCommand {
    RemoteStart {
        id_token: String,
        evse_id: Option<i64>,
        connector_id: Option<i64>,
    },
    /// Ström's transaction id.
    RemoteStop {
        transaction_id: i64,
    },
    Reset {
        hard: bool,
    },
    Unlock {
        evse_id: Option<i64>,
        connector_id: i64,
    },
    Availability {
        operative: bool,
        evse_id: Option<i64>,
        connector_id: Option<i64>,
    },
    /// 1.6: a configuration key; 2.0.1: `Component.Variable`.
    SetConfiguration {
        key: String,
        value: String,
    },
    /// Empty: everything (1.6 GetConfiguration without keys; 2.0.1 needs names).
    GetConfiguration {
        keys: Vec<String>,
    },
}

/// `Component.Variable` (or `Component[instance].Variable[instance]`) into the two parts.
fn component_variable(key: &str) -> Result<Value, String> {
    let (component, variable) = key.split_once('.').ok_or_else(|| format!("{key:?} is not Component.Variable"))?;
    let part = |text: &str| -> Value {
        match text.strip_suffix(']').and_then(|t| t.split_once('[')) {
            Some((name, instance)) => json!({"name": name, "instance": instance}),
            None => json!({"name": text}),
        }
    };
    Ok(json!({"component": part(component), "variable": part(variable)}))
}

impl Commands {
    /// Translates `command` for the station's OCPP version and sends it.
    pub async fn friendly_command(
        &self,
        station: &str,
        command: FriendlyCommand,
    ) -> Result<CommandOutcome, CommandError> {
        let version = self.station_version(station).await?;
        let invalid = |action: &'static str, message: String| CommandError::InvalidPayload { action, message };
        let (action, payload) = match (version, command) {
            (OcppVersion::V16, FriendlyCommand::RemoteStart { id_token, connector_id, .. }) => {
                ("RemoteStartTransaction", json!({"idTag": id_token, "connectorId": connector_id}))
            }
            (OcppVersion::V201, FriendlyCommand::RemoteStart { id_token, evse_id, .. }) => {
                // remoteStartId ties the resulting TransactionEvent to this request (F01.FR.04).
                let remote_start_id = self.clock.now().timestamp_millis().rem_euclid(i64::from(i32::MAX));
                let payload = json!({"idToken": {"idToken": id_token, "type": "Central"}, "remoteStartId": remote_start_id, "evseId": evse_id});
                ("RequestStartTransaction", payload)
            }
            (version, FriendlyCommand::RemoteStop { transaction_id }) => {
                let tx = self.store.transaction(transaction_id).await?;
                let Some(station_tx_id) = tx.filter(|t| t.station_id == station).and_then(|t| t.station_tx_id) else {
                    return Err(invalid(
                        "RemoteStopTransaction",
                        format!("station {station} has no transaction {transaction_id}"),
                    ));
                };
                match version {
                    OcppVersion::V16 => {
                        let id: i64 = station_tx_id.parse().map_err(|_| {
                            invalid("RemoteStopTransaction", format!("{station_tx_id:?} is not a 1.6 transaction id"))
                        })?;
                        ("RemoteStopTransaction", json!({"transactionId": id}))
                    }
                    OcppVersion::V201 => ("RequestStopTransaction", json!({"transactionId": station_tx_id})),
                }
            }
            (OcppVersion::V16, FriendlyCommand::Reset { hard }) => {
                ("Reset", json!({"type": if hard { "Hard" } else { "Soft" }}))
            }
            (OcppVersion::V201, FriendlyCommand::Reset { hard }) => {
                ("Reset", json!({"type": if hard { "Immediate" } else { "OnIdle" }}))
            }
            (OcppVersion::V16, FriendlyCommand::Unlock { connector_id, .. }) => {
                ("UnlockConnector", json!({"connectorId": connector_id}))
            }
            (OcppVersion::V201, FriendlyCommand::Unlock { evse_id, connector_id }) => {
                let evse_id =
                    evse_id.ok_or_else(|| invalid("UnlockConnector", "evse_id is required for OCPP 2.0.1".into()))?;
                ("UnlockConnector", json!({"evseId": evse_id, "connectorId": connector_id}))
            }
            (OcppVersion::V16, FriendlyCommand::Availability { operative, connector_id, .. }) => {
                let kind = if operative { "Operative" } else { "Inoperative" };
                ("ChangeAvailability", json!({"connectorId": connector_id.unwrap_or(0), "type": kind}))
            }
            (OcppVersion::V201, FriendlyCommand::Availability { operative, evse_id, connector_id }) => {
                let status = if operative { "Operative" } else { "Inoperative" };
                let evse = evse_id.map(|id| json!({"id": id, "connectorId": connector_id}));
                ("ChangeAvailability", json!({"operationalStatus": status, "evse": evse}))
            }
            (OcppVersion::V16, FriendlyCommand::SetConfiguration { key, value }) => {
                ("ChangeConfiguration", json!({"key": key, "value": value}))
            }
            (OcppVersion::V201, FriendlyCommand::SetConfiguration { key, value }) => {
                let mut item = component_variable(&key).map_err(|m| invalid("SetVariables", m))?;
                item["attributeValue"] = json!(value);
                ("SetVariables", json!({"setVariableData": [item]}))
            }
            (OcppVersion::V16, FriendlyCommand::GetConfiguration { keys }) => {
                ("GetConfiguration", if keys.is_empty() { json!({}) } else { json!({"key": keys}) })
            }
            (OcppVersion::V201, FriendlyCommand::GetConfiguration { keys }) => {
                if keys.is_empty() {
                    return Err(invalid("GetVariables", "name the Component.Variable keys to read".into()));
                }
                let items = keys.iter().map(|k| component_variable(k)).collect::<Result<Vec<_>, _>>();
                ("GetVariables", json!({"getVariableData": items.map_err(|m| invalid("GetVariables", m))?}))
            }
        };
        self.command(station, action, &strip_nulls(payload).to_string()).await
    }
}

/// Optional fields left unset are absent on the wire, not null (the schemas forbid null).
pub(crate) fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_variable_keys() {
        assert_eq!(
            component_variable("OCPPCommCtrlr.HeartbeatInterval"),
            Ok(json!({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}))
        );
        assert_eq!(
            component_variable("OCPPCommCtrlr.MessageAttempts[TransactionEvent]"),
            Ok(
                json!({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageAttempts", "instance": "TransactionEvent"}})
            )
        );
        assert!(component_variable("NoDot").is_err());
    }

    #[test]
    fn nulls_are_dropped() {
        assert_eq!(strip_nulls(json!({"a": null, "b": {"c": null, "d": 1}})), json!({"b": {"d": 1}}));
    }
}
