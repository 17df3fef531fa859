//! Errors of building EfficientNet-Lite.

/// Error of an EfficientNet-Lite operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EfficientNetError {
    /// A probability hyper-parameter is outside `[0, 1)`.
    #[error("invalid {name} {value}: expected a probability in [0, 1)")]
    InvalidProbability {
        /// Name of the hyper-parameter.
        name: &'static str,
        /// Value received.
        value: f64,
    },
}

/// Checks that `value` is a probability in `[0, 1)`.
pub(crate) fn check_probability(name: &'static str, value: f64) -> Result<f64, EfficientNetError> {
    match value.is_finite() && (0.0..1.0).contains(&value) {
        true => Ok(value),
        false => Err(EfficientNetError::InvalidProbability { name, value }),
    }
}
