//! ONNX files: a small protobuf reader and the mapping of a ResNet graph onto
//! torchvision names.

mod model;
mod resnet;
mod wire;

use std::path::Path;

pub use model::{Attribute, Graph, Node, parse_model};
pub use resnet::{OnnxResNet, read_onnx_resnet};

use crate::weights::{TensorMap, WeightsError};

/// Returns whether `bytes` starts like an ONNX `ModelProto`: `ir_version` (field 1,
/// varint) is the first field every exporter writes.
pub(crate) fn looks_like_onnx(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x08)
        && bytes
            .get(1)
            .is_some_and(|version| (1..=20).contains(version))
}

/// Reads an ONNX file's initializers (and `Constant` values) under their own names.
pub(crate) fn read_initializers(path: &Path, bytes: &[u8]) -> Result<TensorMap, WeightsError> {
    let graph = parse_model(bytes).map_err(|message| WeightsError::InvalidOnnx {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(graph.initializers.into_iter().collect())
}
