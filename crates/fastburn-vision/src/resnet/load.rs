//! Loading a ResNet's weights from any supported file.

use std::path::Path;

use burn::tensor::Device;

use super::config::ResNetConfig;
use super::model::ResNet;
use crate::onnx::read_onnx_resnet;
use crate::weights::{TensorMap, WeightFormat, WeightsError, apply, detect_format, read_tensors};

/// Reads a ResNet's weights under torchvision names: PyTorch and safetensors files as
/// they are, ONNX files by graph topology (see [`read_onnx_resnet`]).
pub fn resnet_tensors(path: &Path, config: &ResNetConfig) -> Result<TensorMap, WeightsError> {
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;

    match detect_format(path, &bytes)? {
        WeightFormat::Onnx => Ok(read_onnx_resnet(path, &bytes, config)?.tensors),
        _ => read_tensors(path),
    }
}

/// Creates a ResNet as `config` describes and loads every weight from `path`.
///
/// # Errors
///
/// Any [`WeightsError`] from reading the file, and [`WeightsError::Mismatch`] listing
/// every missing key, unexpected key and shape mismatch when the file is not this network.
pub fn load_resnet(
    config: &ResNetConfig,
    path: &Path,
    device: &Device,
) -> Result<ResNet, WeightsError> {
    let tensors = resnet_tensors(path, config)?;
    let model = config.init(device);
    apply(model, &tensors, &path.display().to_string())
}
