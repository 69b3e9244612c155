//! Errors of loading and generating genesis files, keys and node configs.

use std::path::PathBuf;

/// Why a genesis file, key file or node config could not be read, checked or written.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON/TOML of the expected shape.
    #[error("{path}: invalid {what} at `{field}`: {message}")]
    Parse {
        /// The file (`<input>` when parsed from a string).
        path: PathBuf,
        /// What was being read ("genesis", "key file", "config").
        what: &'static str,
        /// The path of the offending field (`alloc.0xabc….balance`), or `.` for the root.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value is well-formed but not acceptable.
    #[error("invalid genesis: {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A key file's contents are inconsistent or unusable.
    #[error("{path}: invalid key file: {field}: {reason}")]
    InvalidKey {
        /// The key file.
        path: PathBuf,
        /// The offending field.
        field: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Refusing to overwrite something that exists.
    #[error("{path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The existing file or directory.
        path: PathBuf,
    },
}

impl GenesisError {
    /// An [`GenesisError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a serde error, keeping the path of the field it happened at.
    pub(crate) fn parse<E: std::fmt::Display>(
        path: impl Into<PathBuf>,
        what: &'static str,
        err: serde_path_to_error::Error<E>,
    ) -> Self {
        let field = err.path().to_string();
        Self::Parse {
            path: path.into(),
            what,
            field,
            message: err.into_inner().to_string(),
        }
    }
}

/// Reads a whole file, refusing one larger than `max` bytes so a mistaken path (a disk
/// image, a log) cannot exhaust memory.
pub(crate) fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, GenesisError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| GenesisError::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| GenesisError::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(GenesisError::io(
            path,
            std::io::Error::other(format!("file is larger than {max} bytes")),
        ));
    }
    Ok(bytes)
}
