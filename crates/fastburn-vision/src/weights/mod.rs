//! Reading weight files into a [`TensorMap`] and applying one onto a module.
//!
//! The format is detected from the file's first bytes, not its extension:
//!
//! - PyTorch zip checkpoints (PyTorch ≥ 1.6) and legacy pickle streams (before 1.6), read
//!   with burn-store's pytorch-reader after [a safety scan](pickle_scan) of every pickle;
//! - safetensors;
//! - ONNX, whose initializers are returned under their own names.

mod apply;
#[cfg(feature = "network")]
pub mod download;
mod error;
pub mod pickle_scan;
mod pytorch;
mod report;
mod resolve;
mod safetensors;
mod tensor_map;

use std::path::Path;

pub use apply::{apply, pytorch_names};
pub use error::WeightsError;
pub use report::{LoadReport, ShapeMismatch};
pub use resolve::{hub_checkpoints_dir, resolve_weights};
pub use tensor_map::{TensorMap, WeightTensor};

/// The container formats [`read_tensors`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// A PyTorch ≥ 1.6 zip checkpoint.
    PytorchZip,
    /// A legacy PyTorch pickle stream (PyTorch 0.1.10 to 1.5), or a plain pickle.
    PytorchLegacy,
    /// A safetensors file.
    Safetensors,
    /// An ONNX model (protobuf `ModelProto`).
    Onnx,
}

/// Reads every tensor in a weight file, converted to `f32`, under the file's own names.
///
/// # Errors
///
/// A typed [`WeightsError`] naming the file for an unreadable, empty, truncated or
/// unrecognised file, and [`WeightsError::UnsafePickle`] for a pickle that references a
/// Python global not needed to rebuild tensors.
pub fn read_tensors(path: &Path) -> Result<TensorMap, WeightsError> {
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;

    match detect_format(path, &bytes)? {
        WeightFormat::PytorchZip => pytorch::read_zip(path),
        WeightFormat::PytorchLegacy => pytorch::read_legacy(path, &bytes),
        WeightFormat::Safetensors => safetensors::read_safetensors(path, &bytes),
        WeightFormat::Onnx => crate::onnx::read_initializers(path, &bytes),
    }
}

/// Detects a weight file's format from its first bytes.
pub fn detect_format(path: &Path, bytes: &[u8]) -> Result<WeightFormat, WeightsError> {
    if bytes.is_empty() {
        return Err(WeightsError::Empty {
            path: path.to_path_buf(),
        });
    }

    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Ok(WeightFormat::PytorchZip);
    }

    // Pickle protocol 2 and later start with PROTO (0x80) and a version byte.
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Ok(WeightFormat::PytorchLegacy);
    }

    if bytes.get(257..262) == Some(b"ustar") {
        return Err(WeightsError::Unsupported {
            path: path.to_path_buf(),
            reason: "TAR checkpoints (PyTorch before 0.1.10) are not read; load the file \
                     with PyTorch and re-save it with torch.save"
                .to_string(),
        });
    }

    if is_safetensors(bytes) {
        return Ok(WeightFormat::Safetensors);
    }

    if crate::onnx::looks_like_onnx(bytes) {
        return Ok(WeightFormat::Onnx);
    }

    Err(WeightsError::UnknownFormat {
        path: path.to_path_buf(),
    })
}

/// Returns whether `bytes` starts as a safetensors file does: a little-endian `u64` header
/// length, then a JSON object.
fn is_safetensors(bytes: &[u8]) -> bool {
    let Some(length) = bytes.get(..8) else {
        return false;
    };
    let length = u64::from_le_bytes(length.try_into().expect("8 bytes"));
    let header_fits = length >= 2 && length <= (bytes.len() as u64).saturating_sub(8);
    header_fits && bytes.get(8) == Some(&b'{')
}
