//! The node's two keys, each read from a file that is created on first start when missing:
//! the seal key (DESIGN.md, invariant 2; MCPAUTH_SEAL_KEY may give it instead) and the cluster
//! secret that authenticates internal traffic. Every node of a cluster needs the same two; a
//! node that finds the file already written by another reads that one. Neither enters the log.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("MCPAUTH_SEAL_KEY must be 32 bytes in base64")]
    BadEnv,
    #[error("{0} must hold exactly 32 bytes (raw) or their base64")]
    BadSealKey(String),
    #[error("cluster secret file {0} must hold at least 16 characters")]
    BadClusterSecret(String),
    #[error("cannot read or create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// `shared`: the cluster has other members, which need the same file.
pub fn seal_key(path: &Path, shared: bool) -> Result<Vec<u8>, SecretFileError> {
    if let Ok(value) = std::env::var("MCPAUTH_SEAL_KEY") {
        let key = STANDARD
            .decode(value.trim())
            .map_err(|_| SecretFileError::BadEnv)?;
        return if key.len() == 32 {
            Ok(key)
        } else {
            Err(SecretFileError::BadEnv)
        };
    }
    let bytes = read_or_create(path, "seal key", shared)?;
    if bytes.len() == 32 {
        return Ok(bytes);
    }
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| STANDARD.decode(text.trim()).ok())
        .filter(|k| k.len() == 32)
        .ok_or_else(|| SecretFileError::BadSealKey(path.display().to_string()))
}

pub fn cluster_secret(path: &Path, shared: bool) -> Result<String, SecretFileError> {
    let bytes = read_or_create(path, "cluster secret", shared)?;
    let secret = String::from_utf8_lossy(&bytes).trim().to_owned();
    if secret.len() < 16 {
        return Err(SecretFileError::BadClusterSecret(
            path.display().to_string(),
        ));
    }
    Ok(secret)
}

/// The file's bytes; a new file holds base64 of 32 random bytes (mode 0600).
fn read_or_create(path: &Path, what: &str, shared: bool) -> Result<Vec<u8>, SecretFileError> {
    let io = |source| SecretFileError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let content = STANDARD.encode(key).into_bytes();
    // Write a temporary file, then link it into place: the file appears whole or not at all,
    // and if another node sharing the path got there first, its file wins.
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp).map_err(io)?;
    file.write_all(&content).map_err(io)?;
    file.sync_all().map_err(io)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            if shared {
                tracing::warn!(path = %path.display(), "created a new {what}; every node of this cluster needs the same file");
            } else {
                tracing::info!(path = %path.display(), "created a new {what}; keep it with the data (a node added later needs a copy)");
            }
            Ok(content)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path).map_err(io),
        Err(e) => Err(io(e)),
    }
}
