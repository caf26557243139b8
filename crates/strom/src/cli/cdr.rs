//! `strom cdr export`: the charge detail records of a period as CSV or JSON, from the API's
//! streamed export (`GET /api/v1/exports/cdrs`), written to a file or standard output as the
//! body arrives, so a year of records never sits in memory. A body the server breaks off (its
//! storage failed midway) makes the command fail rather than leave a short file that looks
//! whole.

use super::report::encoded;
use super::{ApiArgs, Client};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, a header line first (RFC 4180); formula-like text made text.
    Csv,
    /// One JSON array of the API's records.
    Json,
}

#[derive(Subcommand)]
pub enum CdrCommand {
    /// Write the charge detail records whose session ended in [from, to), every one, as CSV
    /// (default) or JSON, in the order they were written.
    Export {
        /// Start of the period, RFC 3339, e.g. 2026-12-01T00:00:00Z (the server's default: 30
        /// days before --to; at most 366 days before it).
        #[arg(long)]
        from: Option<String>,
        /// End of the period, not included, RFC 3339 (default: now).
        #[arg(long)]
        to: Option<String>,
        /// Only this station's.
        #[arg(long)]
        station: Option<String>,
        /// Only sessions of this id token.
        #[arg(long)]
        token: Option<String>,
        /// csv or json.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// The file to write; standard output without it.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// The export's path with the parameters given.
fn path(from: Option<&str>, to: Option<&str>, station: Option<&str>, token: Option<&str>, format: Format) -> String {
    let mut params: Vec<String> = [("from", from), ("to", to), ("station_id", station), ("id_token", token)]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={}", encoded(v))))
        .collect();
    params.push(format!("format={}", if format == Format::Csv { "csv" } else { "json" }));
    format!("/api/v1/exports/cdrs?{}", params.join("&"))
}

pub async fn cdr(args: &ApiArgs, command: CdrCommand) -> Result<()> {
    let client = Client::new(args)?;
    match command {
        CdrCommand::Export { from, to, station, token, format, output } => {
            let path = path(from.as_deref(), to.as_deref(), station.as_deref(), token.as_deref(), format);
            download(&client, &path, output.as_deref()).await
        }
    }
}

/// GETs `path` and writes its body, frame by frame, to `output` or standard output; an error
/// answer is the command's error with the API's message.
async fn download(client: &Client, path: &str, output: Option<&Path>) -> Result<()> {
    let stream = tokio::net::TcpStream::connect(&client.authority)
        .await
        .with_context(|| format!("connecting to Ström at {}", client.authority))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut request = hyper::Request::builder().method("GET").uri(path).header("host", &client.authority);
    if let Some(token) = &client.token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = sender.send_request(request.body(Empty::<Bytes>::new())?).await?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    if !(200..300).contains(&status) {
        let bytes = body.collect().await?.to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let message = value.get("error").and_then(serde_json::Value::as_str).unwrap_or("no message");
        bail!("GET {path}: HTTP {status}: {message}");
    }
    let mut out: Box<dyn Write> = match output {
        Some(file) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut bytes = 0_u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the export broke off before its end (the server's storage failed?)")?;
        if let Some(data) = frame.data_ref() {
            out.write_all(data)?;
            bytes += data.len() as u64;
        }
    }
    out.flush()?;
    eprintln!("exported {bytes} bytes{}", output.map(|f| format!(" to {}", f.display())).unwrap_or_default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_carries_the_filters_encoded() {
        assert_eq!(path(None, None, None, None, Format::Csv), "/api/v1/exports/cdrs?format=csv");
        assert_eq!(
            path(
                Some("2026-12-01T00:00:00+01:00"),
                Some("2027-01-01T00:00:00Z"),
                Some("CP 1"),
                Some("=A"),
                Format::Json
            ),
            "/api/v1/exports/cdrs?from=2026-12-01T00:00:00%2B01:00&to=2027-01-01T00:00:00Z&station_id=CP%201\
             &id_token=%3DA&format=json"
        );
    }
}
