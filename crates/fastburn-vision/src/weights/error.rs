//! Errors from reading weight files and applying them to a module.

use std::path::PathBuf;

use super::report::LoadReport;

/// Error from reading a weight file, resolving one, or applying its tensors to a module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// The file could not be opened or read.
    #[error("failed to read weight file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The file has no bytes.
    #[error("weight file {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// The file is not in any format this crate reads.
    #[error(
        "{path} is not a weight file: expected a PyTorch .pth/.pt (zip or legacy pickle), \
         safetensors or ONNX file"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },

    /// The file is a format this crate recognises but does not read.
    #[error("unsupported weight file {path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The unsupported feature and what to do instead.
        reason: String,
    },

    /// A PyTorch checkpoint is truncated or corrupt.
    #[error("invalid PyTorch checkpoint {path}: {message}")]
    InvalidPytorch {
        /// The file.
        path: PathBuf,
        /// The reader's description of the problem.
        message: String,
    },

    /// A pickle references a Python global outside the allow-list, which
    /// `torch.load(weights_only=True)` rejects too: unpickling it could run arbitrary code.
    #[error(
        "rejected unsafe pickle in {path}: it references `{global}`, which is not needed to \
         rebuild tensors; only load checkpoints from sources you trust, and re-save this one \
         as a plain state_dict"
    )]
    UnsafePickle {
        /// The file.
        path: PathBuf,
        /// The rejected global, as `module.name`.
        global: String,
    },

    /// A pickle is malformed in a way the safety scan detects before parsing.
    #[error("invalid pickle in {path} at byte {offset}: {message}")]
    InvalidPickle {
        /// The file.
        path: PathBuf,
        /// Byte offset of the offending opcode within the pickle.
        offset: usize,
        /// The problem found.
        message: String,
    },

    /// A safetensors file is truncated or corrupt.
    #[error("invalid safetensors file {path}: {message}")]
    InvalidSafetensors {
        /// The file.
        path: PathBuf,
        /// The safetensors crate's message.
        message: String,
    },

    /// An ONNX file is truncated or corrupt, or its graph is not the expected network.
    #[error("invalid ONNX file {path}: {message}")]
    InvalidOnnx {
        /// The file.
        path: PathBuf,
        /// The problem found.
        message: String,
    },

    /// A tensor has an element type that cannot be converted to `f32`.
    #[error("tensor `{key}` in {path} has unsupported element type {dtype}")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// The element type, as the file names it.
        dtype: String,
    },

    /// The tensors do not match the module: missing keys, unexpected keys or wrong shapes.
    #[error("weights in {source_name} do not match the model:\n{report}")]
    Mismatch {
        /// The file (or other source) the tensors came from.
        source_name: String,
        /// Every key that did not match, by name.
        report: LoadReport,
    },

    /// No weight file was found for an architecture.
    #[error(
        "pretrained weights `{file_name}` not found (looked in: {searched}). Download {url} \
         and put it in {hub_dir}, set $FASTBURN_WEIGHTS to the file, or pass its path"
    )]
    NotFound {
        /// torchvision's file name for the weights.
        file_name: String,
        /// The download address.
        url: String,
        /// The PyTorch hub checkpoint directory, where the file is looked up.
        hub_dir: PathBuf,
        /// The places searched, comma-separated.
        searched: String,
    },

    /// Downloading weights failed (feature `network`).
    #[error("failed to download {url}: {message}")]
    Download {
        /// The address.
        url: String,
        /// The problem found.
        message: String,
    },
}
