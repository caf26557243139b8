//! Ström's CA on disk: `strom ca init` makes a new key and self-signed CA certificate and writes
//! them to files (the key readable by its owner only, and never over an existing file), and
//! `strom serve` loads the pair it is configured with (`ca_cert`, `ca_key`), checked at start.

use crate::config::{CaFiles, Config};
use anyhow::{bail, Context, Result};
use csms_pki::Authority;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

/// Writes a new CA to `files`; refuses if either file exists, so that a CA stations already
/// trust is never replaced by accident.
pub fn init(files: &CaFiles, common_name: &str, organization: Option<&str>, days: u32) -> Result<()> {
    for path in [&files.cert, &files.key] {
        if path.exists() {
            bail!("{} exists already; Ström does not overwrite a CA (remove it first if you mean to)", path.display());
        }
    }
    let validity = chrono::Duration::days(i64::from(days));
    let made = Authority::generate(common_name, organization, validity, chrono::Utc::now())?;
    write_new(&files.key, made.key_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&files.cert, made.cert_pem.as_bytes(), 0o644) {
        // A key without its certificate is of no use, and a second run should not find it.
        let _ = std::fs::remove_file(&files.key);
        return Err(e);
    }
    Ok(())
}

/// Creates `path` with `mode` (before any byte is written, so the key is never readable by
/// others, whatever the umask) and writes `bytes`, durably.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The configured CA, loaded and checked (its key, its CA flag, its validity); `None` when no
/// CA is configured.
pub fn load(config: &Config) -> Result<Option<Arc<Authority>>> {
    let Some(files) = &config.ca else {
        return Ok(None);
    };
    let cert = std::fs::read_to_string(&files.cert).with_context(|| format!("reading {}", files.cert.display()))?;
    let key = std::fs::read_to_string(&files.key).with_context(|| format!("reading {}", files.key.display()))?;
    let authority = Authority::load(&cert, &key, config.certificate_policy.clone(), chrono::Utc::now())
        .with_context(|| format!("the CA in {} and {}", files.cert.display(), files.key.display()))?;
    let facts = authority.certificate();
    tracing::info!(subject = %facts.subject, not_after = %facts.not_after, "CA loaded: station certificates are signed");
    Ok(Some(Arc::new(authority)))
}
