//! `strom tag`: the id tokens drivers present (add several at once, list, remove, set, block and
//! unblock), through the API.

use super::{answer, print, rows, table, text, ApiArgs, Client};
use anyhow::Result;
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum TagCommand {
    /// Add id tokens (one or more, all with the settings below).
    Add {
        /// The id tokens to add (e.g. RFID tags' ids), one or more.
        #[arg(required = true)]
        id_tokens: Vec<String>,
        /// Accepted, Blocked, Expired, Invalid, NoCredit, NotAllowedTypeEVSE, NotAtThisLocation,
        /// NotAtThisTime or Unknown.
        #[arg(long, default_value = "Accepted")]
        status: String,
        /// RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z.
        #[arg(long)]
        expiry: Option<String>,
        /// The group (parent id token), for ConcurrentTx and shared authorization.
        #[arg(long)]
        parent: Option<String>,
    },
    /// List id tokens.
    List,
    /// Remove an id token.
    Remove {
        /// The id token (e.g. an RFID tag's id).
        id_token: String,
    },
    /// Change an id token: what is given replaces its value, the rest is kept.
    Set {
        /// The id token (e.g. an RFID tag's id).
        id_token: String,
        /// Accepted, Blocked, Expired, Invalid, NoCredit, NotAllowedTypeEVSE, NotAtThisLocation,
        /// NotAtThisTime or Unknown.
        #[arg(long)]
        status: Option<String>,
        /// RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z; "none" removes it.
        #[arg(long)]
        expiry: Option<String>,
        /// The group (parent id token); "none" removes it.
        #[arg(long)]
        parent: Option<String>,
    },
    /// Block an id token: Authorize and starts with it are answered Blocked.
    Block {
        /// The id token (e.g. an RFID tag's id).
        id_token: String,
    },
    /// Accept a blocked id token again.
    Unblock {
        /// The id token (e.g. an RFID tag's id).
        id_token: String,
    },
}

pub async fn tag(args: &ApiArgs, command: TagCommand) -> Result<()> {
    let client = Client::new(args)?;
    match command {
        TagCommand::Add { id_tokens, status, expiry, parent } => {
            let mut added = Vec::new();
            for id_token in id_tokens {
                let body = json!({"id_token": id_token, "status": status, "expiry": expiry, "parent_id_token": parent});
                added.push(client.ok("POST", "/api/v1/id-tokens", Some(body)).await?);
            }
            // One token is shown as the API answers it; several as a list.
            match <[Value; 1]>::try_from(added) {
                Ok([one]) => print(args, &one, |v| tags_table(&json!([v]))),
                Err(several) => print(args, &Value::Array(several), tags_table),
            }
        }
        TagCommand::List => print(args, &client.all("/api/v1/id-tokens").await?, tags_table),
        TagCommand::Remove { id_token } => {
            client.ok("DELETE", &format!("/api/v1/id-tokens/{id_token}"), None).await?;
            print(args, &json!({"removed": id_token}), answer)
        }
        TagCommand::Set { id_token, status, expiry, parent } => {
            let value = set_tag(&client, &id_token, status, expiry, parent).await?;
            print(args, &value, |v| tags_table(&json!([v])))
        }
        TagCommand::Block { id_token } => {
            let value = set_tag(&client, &id_token, Some("Blocked".into()), None, None).await?;
            print(args, &value, |v| tags_table(&json!([v])))
        }
        TagCommand::Unblock { id_token } => {
            let value = set_tag(&client, &id_token, Some("Accepted".into()), None, None).await?;
            print(args, &value, |v| tags_table(&json!([v])))
        }
    }
}

/// Changes what is given of an id token, keeping the rest (the API replaces a token whole).
async fn set_tag(
    client: &Client,
    id_token: &str,
    status: Option<String>,
    expiry: Option<String>,
    parent: Option<String>,
) -> Result<Value> {
    let path = format!("/api/v1/id-tokens/{id_token}");
    let current = client.ok("GET", &path, None).await?;
    let given = |value: Option<String>, field: &str| match value.as_deref() {
        Some("none") => Value::Null,
        Some(v) => json!(v),
        None => current[field].clone(),
    };
    let body = json!({
        "id_token": id_token,
        "status": status.map_or_else(|| current["status"].clone(), Value::String),
        "expiry": given(expiry, "expiry"),
        "parent_id_token": given(parent, "parent_id_token"),
    });
    client.ok("PUT", &path, Some(body)).await
}

/// `strom ca expiring`: certificates of every station that expire within `days`.
fn tags_table(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|t| vec![text(&t["id_token"]), text(&t["status"]), text(&t["expiry"]), text(&t["parent_id_token"])])
        .collect();
    table(&["ID TOKEN", "STATUS", "EXPIRY", "PARENT"], rows)
}
