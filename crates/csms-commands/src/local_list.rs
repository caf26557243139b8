//! Local authorization lists built from Ström's id tokens (OCPP 1.6 §5.15, 2.0.1 D01/D02):
//! a Full list or the Differential changes since what the station last accepted, split into
//! messages of at most the station's list length, each with the next list version. Also what
//! any accepted SendLocalList, an operator's raw one included, changes in Ström's copy of the
//! station's list, and the list version a station states itself.

use crate::commands::{CommandError, CommandReply};
use crate::friendly::strip_nulls;
use crate::Commands;
use csms_core::authorization::{IdTokenRecord, TokenStatus, TokenType};
use csms_core::clock::format_timestamp;
use csms_core::ops::{Change, Changes};
use csms_core::station::StationId;
use csms_core::Timestamp;
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

/// What an accepted SendLocalList changes in the station's list, in Ström's terms: a Full one
/// replaces the list with `upserts`, a Differential one upserts and removes (OCPP 1.6 §5.15,
/// 2.0.1 D01/D02: an entry without idTagInfo / idTokenInfo removes its token).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListUpdate {
    pub version: i64,
    pub full: bool,
    pub upserts: Vec<IdTokenRecord>,
    pub removed: Vec<String>,
}

impl ListUpdate {
    /// An empty update to `version`, to which the request's entries are added in order.
    fn new(version: i64, full: bool) -> ListUpdate {
        ListUpdate { version, full, upserts: Vec::new(), removed: Vec::new() }
    }

    /// The entry for `token`; a later entry for the same token wins over an earlier one.
    fn add(&mut self, token: String, info: Option<IdTokenRecord>) -> Result<(), String> {
        self.upserts.retain(|t| t.id_token != token);
        self.removed.retain(|t| *t != token);
        match info {
            Some(record) => self.upserts.push(record),
            None if self.full => {
                // Required in a Full update (OCPP 1.6 §7.2 AuthorizationData, 2.0.1
                // AuthorizationDataType): without it the entry means nothing.
                return Err(format!("the entry for {token:?} in a Full list has no status"));
            }
            None => self.removed.push(token),
        }
        Ok(())
    }

    /// Reads a 1.6 SendLocalList. Refused: an entry Ström could not keep as it is sent.
    pub(crate) fn from_16(req: &ocpp::v16::SendLocalListRequest) -> Result<ListUpdate, String> {
        let full = req.update_type == ocpp::v16::SendLocalListUpdateType::Full;
        let mut update = ListUpdate::new(req.list_version, full);
        for entry in req.local_authorization_list.iter().flatten() {
            let info = match &entry.id_tag_info {
                Some(info) => Some(IdTokenRecord {
                    id_token: entry.id_tag.clone(),
                    // 1.6 tags carry no type.
                    token_type: None,
                    status: list_status(&entry.id_tag, info.status.as_str())?,
                    expiry: info.expiry_date.as_ref().map(|d| d.0),
                    parent_id_token: info.parent_id_tag.clone(),
                }),
                None => None,
            };
            update.add(entry.id_tag.clone(), info)?;
        }
        Ok(update)
    }

    /// Reads a 2.0.1 SendLocalList. Ström's copy keeps a token's type, status, expiry and group;
    /// the other idTokenInfo fields are not kept.
    pub(crate) fn from_201(req: &ocpp::v201::SendLocalListRequest) -> Result<ListUpdate, String> {
        let full = req.update_type == ocpp::v201::UpdateEnum::Full;
        let mut update = ListUpdate::new(req.version_number, full);
        for entry in req.local_authorization_list.iter().flatten() {
            let token = &entry.id_token.id_token;
            let info = match &entry.id_token_info {
                Some(info) => Some(IdTokenRecord {
                    id_token: token.clone(),
                    token_type: TokenType::parse(entry.id_token.r#type.as_str()),
                    status: list_status(token, info.status.as_str())?,
                    expiry: info.cache_expiry_date_time.as_ref().map(|d| d.0),
                    parent_id_token: info.group_id_token.as_ref().map(|g| g.id_token.clone()),
                }),
                None => None,
            };
            update.add(token.clone(), info)?;
        }
        Ok(update)
    }

    /// The writes that record the station's acceptance: Ström's copy, and the version the
    /// station now holds by its own word.
    pub(crate) fn accepted(self, station: StationId, now: Timestamp) -> Vec<Change> {
        let reported = version_reported(station.clone(), self.version, "SendLocalList", now);
        let copy = Change::LocalListAccepted {
            station,
            version: self.version,
            full: self.full,
            entries: self.upserts,
            removed: self.removed,
            now,
        };
        vec![copy, reported]
    }
}

/// A SendLocalList answer's status, decoded as the version's response, and whether it is
/// Accepted.
fn list_answer(version: OcppVersion, text: &str) -> (String, bool) {
    use ocpp::{v16, v201};
    match version {
        OcppVersion::V16 => match v16::Response::decode(v16::Action::SendLocalList, text) {
            Ok(v16::Response::SendLocalList(r)) => {
                (r.status.as_str().to_string(), r.status == v16::SendLocalListResponseStatus::Accepted)
            }
            _ => ("InvalidResponse".into(), false),
        },
        OcppVersion::V201 => match v201::Response::decode(v201::Action::SendLocalList, text) {
            Ok(v201::Response::SendLocalList(r)) => {
                (r.status.as_str().to_string(), r.status == v201::SendLocalListStatusEnum::Accepted)
            }
            _ => ("InvalidResponse".into(), false),
        },
    }
}

/// A status a local list entry can hold. ConcurrentTx (1.6 and 2.0.1) and Unknown (2.0.1) are
/// answers about one transaction or one request, not a token's state: Ström refuses to send
/// them rather than keep a copy that says something else.
fn list_status(token: &str, status: &str) -> Result<TokenStatus, String> {
    TokenStatus::parse(status)
        .ok_or_else(|| format!("the entry for {token:?} has status {status}, which a local list cannot hold"))
}

/// The list version a station stated: its answer to GetLocalListVersion, or a SendLocalList it
/// accepted (`source`).
pub(crate) fn version_reported(station: StationId, version: i64, source: &'static str, now: Timestamp) -> Change {
    Change::LocalListVersionReported { station, version, source, now }
}

/// An entry to send: a token to add or update, or one to remove (with the type the station
/// holds it under).
enum Entry {
    Upsert(IdTokenRecord),
    Remove(String, Option<TokenType>),
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
        Entry::Remove(t, _) => json!({"idTag": t}),
    }
}

/// The type a token goes to a 2.0.1 station with: its own; an untyped one (any type will do for
/// Ström) as ISO 14443, the usual RFID card, since a 2.0.1 list entry must name one.
fn sent_type(t: &IdTokenRecord) -> TokenType {
    t.token_type.unwrap_or(TokenType::Iso14443)
}

fn entry_201(e: &Entry) -> Value {
    let token =
        |t: &str, kind: Option<TokenType>| json!({"idToken": t, "type": kind.unwrap_or(TokenType::Iso14443).as_str()});
    match e {
        Entry::Upsert(t) => {
            json!({"idToken": token(&t.id_token, t.token_type), "idTokenInfo": {"status": t.status.as_str(),
            "cacheExpiryDateTime": t.expiry.as_ref().map(format_timestamp),
            "groupIdToken": t.parent_id_token.as_ref().map(|p| json!({"idToken": p, "type": "Central"}))}})
        }
        Entry::Remove(t, kind) => json!({"idToken": token(t, *kind)}),
    }
}

impl Commands {
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
            .all_id_tokens()
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
                .map(|h| Entry::Remove(h.id_token.clone(), h.token_type))
                .collect();
            let mut changes = Vec::new();
            for t in tokens.iter() {
                let held = held_by_id.get(t.id_token.as_str());
                if held.is_some_and(|h| *h == t) {
                    continue;
                }
                // A 2.0.1 station keys its list by value and type: a token whose type changed is
                // removed under the old one first (in the same or an earlier message, so that
                // Ström's copy, which removes before it adds, ends with the new entry).
                if let Some(h) = held.filter(|h| version == OcppVersion::V201 && sent_type(h) != sent_type(t)) {
                    changes.push(Entry::Remove(h.id_token.clone(), h.token_type));
                }
                changes.push(Entry::Upsert(t.clone()));
            }
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
            // Recorded here, not as the command's effect: Ström's copy keeps its tokens as they
            // are, which a 1.6 list cannot always say (NoCredit goes out as Invalid).
            let payload = strip_nulls(payload).to_string();
            let answer = self.command_recorded_by_caller(station, "SendLocalList", &payload).await?;
            outcome.messages += 1;
            let (status, accepted) = match &answer.reply {
                // A Result is valid for SendLocalList's response (`check_response`).
                CommandReply::Result(text) => list_answer(version, text),
                CommandReply::CallError { code, .. } => (format!("CALLERROR {code}"), false),
                CommandReply::InvalidResult { .. } | CommandReply::MalformedAnswer { .. } => {
                    ("InvalidResponse".into(), false)
                }
            };
            outcome.status = status;
            if !accepted {
                break;
            }
            let (mut upserts, mut removed) = (Vec::new(), Vec::new());
            for e in part {
                match e {
                    Entry::Upsert(t) => upserts.push(t.clone()),
                    Entry::Remove(t, _) => removed.push(t.clone()),
                }
            }
            outcome.updated += upserts.len();
            outcome.removed += removed.len();
            let update = ListUpdate { version: list_version, full: first_full, upserts, removed };
            let changes = update.accepted(station_id.clone(), self.clock.now());
            self.store.execute(Changes(changes), Vec::new()).await?;
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
