//! The node's seal key (DESIGN.md, invariant 2): from MCPAUTH_SEAL_KEY, or a file created on
//! first start. Every node of a cluster must be given the same key; it never enters the log.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum SealKeyError {
    #[error("MCPAUTH_SEAL_KEY must be 32 bytes in base64")]
    BadEnv,
    #[error("seal key file {0} must hold exactly 32 bytes (raw) or their base64")]
    BadFile(String),
    #[error("cannot read or create seal key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub fn load_or_create(path: &Path) -> Result<Vec<u8>, SealKeyError> {
    if let Ok(value) = std::env::var("MCPAUTH_SEAL_KEY") {
        let key = STANDARD
            .decode(value.trim())
            .map_err(|_| SealKeyError::BadEnv)?;
        return if key.len() == 32 {
            Ok(key)
        } else {
            Err(SealKeyError::BadEnv)
        };
    }
    let io = |source| SealKeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            decode_file(&bytes).ok_or_else(|| SealKeyError::BadFile(path.display().to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut key = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(io)?;
            file.write_all(STANDARD.encode(&key).as_bytes())
                .map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::warn!(path = %path.display(), "created a new seal key; give the same key to every node of this cluster");
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

fn decode_file(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() == 32 {
        return Some(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).ok()?;
    STANDARD.decode(text.trim()).ok().filter(|k| k.len() == 32)
}
