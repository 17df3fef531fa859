//! The error type of every fallible learner operation.

use std::path::PathBuf;

/// An error raised while building, training, saving or loading a [`Learner`](crate::Learner).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LearnerError {
    /// The data source failed to produce a batch.
    #[error("data loading failed: {0}")]
    Data(String),

    /// An argument is out of range or inconsistent with the learner.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// Name of the argument.
        name: &'static str,
        /// What is wrong with it and what is expected.
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("I/O failed on {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A saved learner, model or optimizer file is malformed or does not match the model.
    #[error("invalid file {path}: {reason}")]
    InvalidFile {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Drawing a plot failed.
    #[error("plotting to {path} failed: {reason}")]
    Plot {
        /// The PNG file being written.
        path: PathBuf,
        /// The plotting library's message.
        reason: String,
    },

    /// A callback raised an error of its own.
    #[error("callback `{callback}` failed: {reason}")]
    Callback {
        /// Name of the callback.
        callback: String,
        /// Its message.
        reason: String,
    },
}

impl LearnerError {
    /// Builds an [`LearnerError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`LearnerError::InvalidArgument`].
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}
