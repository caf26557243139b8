//! Local authorization lists built from Ström's id tokens (OCPP 1.6 §5.15, 2.0.1 D01/D02):
//! a Full list or the Differential changes since what the station last accepted, split into
//! messages of at most the station's list length, each with the next list version.

use crate::commands::{CommandError, CommandReply};
use crate::friendly::strip_nulls;
use crate::Gateway;
use csms_core::authorization::{IdTokenRecord, TokenStatus};
use csms_core::clock::format_timestamp;
use csms_store::Op;
use ocpp::OcppVersion;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Entries per message when the station has not reported its limit (1.6
/// `SendLocalListMaxLength`, 2.0.1 `LocalAuthListCtrlr.ItemsPerMessage`).
pub const DEFAULT_ITEMS_PER_MESSAGE: usize = 20;

/// 1.6 idTags are at most 20 characters; longer tokens cannot go to a 1.6 station.
const MAX_TAG_LEN_16: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct LocalListOutcome {
    /// The list version the station holds now.
    pub version: i64,
    /// Messages sent and the status of the last answer (Accepted unless the station refused).
    pub messages: usize,
    pub status: String,
    /// Entries added or changed, and removed, that the station accepted.
    pub updated: usize,
    pub removed: usize,
    /// Tokens too long for the station's version.
    pub skipped: Vec<String>,
}

/// An entry to send: a token to add or update, or one to remove.
enum Entry {
    Upsert(IdTokenRecord),
    Remove(String),
}

fn entry_16(e: &Entry) -> Value {
    match e {
        Entry::Upsert(t) => {
            let status = match t.status {
                TokenStatus::Accepted => "Accepted",
                TokenStatus::Blocked => "Blocked",
                TokenStatus::Expired => "Expired",
                // 1.6 has no NoCredit / NotAt…: not valid here.
                _ => "Invalid",
            };
            json!({"idTag": t.id_token, "idTagInfo": {"status": status, "expiryDate": t.expiry.as_ref().map(format_timestamp),
                   "parentIdTag": t.parent_id_token}})
        }
        Entry::Remove(t) => json!({"idTag": t}),
    }
}

fn entry_201(e: &Entry) -> Value {
    // Ström keeps no token type; local lists hold cards, so ISO 14443 (the usual RFID) is sent.
    let token = |t: &str| json!({"idToken": t, "type": "ISO14443"});
    match e {
        Entry::Upsert(t) => json!({"idToken": token(&t.id_token), "idTokenInfo": {"status": t.status.as_str(),
            "cacheExpiryDateTime": t.expiry.as_ref().map(format_timestamp),
            "groupIdToken": t.parent_id_token.as_ref().map(|p| json!({"idToken": p, "type": "Central"}))}}),
        Entry::Remove(t) => json!({"idToken": token(t)}),
    }
}

impl Gateway {
    /// Sends the station a Full list of Ström's tokens, or the Differential changes since the
    /// list it last accepted.
    pub async fn send_local_list(&self, station: &str, full: bool) -> Result<LocalListOutcome, CommandError> {
        let version = self.station_version(station).await?;
        let station_id = csms_core::station::StationId::parse(station)
            .ok_or_else(|| CommandError::UnknownStation(station.into()))?;
        let (mut list_version, held) = self.store.local_list(station).await?;
        let mut skipped = Vec::new();
        let tokens: Vec<IdTokenRecord> = self
            .store
            .id_tokens()
            .await?
            .into_iter()
            .filter(|t| {
                let fits = version != OcppVersion::V16 || t.id_token.chars().count() <= MAX_TAG_LEN_16;
                if !fits {
                    skipped.push(t.id_token.clone());
                }
                fits
            })
            .collect();
        let entries: Vec<Entry> = if full {
            tokens.into_iter().map(Entry::Upsert).collect()
        } else {
            let held_by_id: HashMap<&str, &IdTokenRecord> = held.iter().map(|h| (h.id_token.as_str(), h)).collect();
            let current: HashSet<&str> = tokens.iter().map(|t| t.id_token.as_str()).collect();
            let removed: Vec<Entry> = held
                .iter()
                .filter(|h| !current.contains(h.id_token.as_str()))
                .map(|h| Entry::Remove(h.id_token.clone()))
                .collect();
            let mut changes: Vec<Entry> = tokens
                .iter()
                .filter(|t| held_by_id.get(t.id_token.as_str()).is_none_or(|h| *h != *t))
                .cloned()
                .map(Entry::Upsert)
                .collect();
            changes.extend(removed);
            changes
        };
        let chunk = self.items_per_message(station, version).await?;
        let mut outcome = LocalListOutcome {
            version: list_version,
            messages: 0,
            status: "Accepted".into(),
            updated: 0,
            removed: 0,
            skipped,
        };
        // A Full list is always sent, even empty (that clears the station's list); an empty
        // Differential would only bump the version, so it is not sent.
        let chunks: Vec<&[Entry]> = if entries.is_empty() {
            if full {
                vec![&[]]
            } else {
                Vec::new()
            }
        } else {
            entries.chunks(chunk).collect()
        };
        for (i, part) in chunks.into_iter().enumerate() {
            let first_full = full && i == 0;
            let update_type = if first_full { "Full" } else { "Differential" };
            list_version += 1;
            // An empty list is left out: 2.0.1 forbids an empty array (minItems 1), and an absent
            // list in a Full update clears the station's (D01.FR.05, OCPP 1.6 §5.15).
            let list = |f: fn(&Entry) -> Value| (!part.is_empty()).then(|| part.iter().map(f).collect::<Vec<_>>());
            let payload = match version {
                OcppVersion::V16 => {
                    json!({"listVersion": list_version, "updateType": update_type, "localAuthorizationList": list(entry_16)})
                }
                OcppVersion::V201 => {
                    json!({"versionNumber": list_version, "updateType": update_type, "localAuthorizationList": list(entry_201)})
                }
            };
            let answer = self.command(station, "SendLocalList", &strip_nulls(payload).to_string()).await?;
            outcome.messages += 1;
            let status = match &answer.reply {
                CommandReply::Result(text) => serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v["status"].as_str().map(str::to_string))
                    .unwrap_or_default(),
                CommandReply::CallError { code, .. } => format!("CALLERROR {code}"),
                CommandReply::InvalidResult { .. } | CommandReply::MalformedAnswer { .. } => "InvalidResponse".into(),
            };
            outcome.status = status.clone();
            if status != "Accepted" {
                break;
            }
            let (mut upserts, mut removed) = (Vec::new(), Vec::new());
            for e in part {
                match e {
                    Entry::Upsert(t) => upserts.push(t.clone()),
                    Entry::Remove(t) => removed.push(t.clone()),
                }
            }
            outcome.updated += upserts.len();
            outcome.removed += removed.len();
            let op = Op::LocalListAccepted {
                station: station_id.clone(),
                version: list_version,
                full: first_full,
                entries: upserts,
                removed,
                now: self.clock.now(),
            };
            self.store.apply(op, Vec::new()).await?;
            outcome.version = list_version;
        }
        Ok(outcome)
    }

    /// How many entries one SendLocalList may carry, as the station reported it.
    async fn items_per_message(&self, station: &str, version: OcppVersion) -> Result<usize, CommandError> {
        let reported = match version {
            OcppVersion::V16 => self
                .store
                .configuration(station)
                .await?
                .into_iter()
                .find(|k| k.key == "SendLocalListMaxLength")
                .and_then(|k| k.value),
            OcppVersion::V201 => self
                .store
                .device_model(station)
                .await?
                .into_iter()
                .find(|v| {
                    v.component == "LocalAuthListCtrlr"
                        && v.variable == "ItemsPerMessage"
                        && v.attribute_type == "Actual"
                })
                .and_then(|v| v.value),
        };
        Ok(reported
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_ITEMS_PER_MESSAGE))
    }
}
