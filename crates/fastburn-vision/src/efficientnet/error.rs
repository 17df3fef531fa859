//! Errors of building and loading EfficientNet-Lite.

use std::path::PathBuf;

/// Error of an EfficientNet-Lite operation.
#[derive(Debug, thiserror::Error)]
pub enum EfficientNetError {
    /// A probability hyper-parameter is outside `[0, 1)`.
    #[error("invalid {name} {value}: expected a probability in [0, 1)")]
    InvalidProbability {
        /// Name of the hyper-parameter.
        name: &'static str,
        /// Value received.
        value: f64,
    },

    /// A weight file could not be read or does not fit the network.
    #[error("failed to load EfficientNet-Lite weights from {path}: {message}")]
    Weights {
        /// File being loaded.
        path: PathBuf,
        /// What went wrong, with the key or shape involved.
        message: String,
    },
}

/// Checks that `value` is a probability in `[0, 1)`.
pub(crate) fn check_probability(name: &'static str, value: f64) -> Result<f64, EfficientNetError> {
    match value.is_finite() && (0.0..1.0).contains(&value) {
        true => Ok(value),
        false => Err(EfficientNetError::InvalidProbability { name, value }),
    }
}
