//! ResNet outputs against PyTorch's, for every supported weight format.

mod common;

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use common::fixture;
use fastburn_vision::onnx::read_onnx_resnet;
use fastburn_vision::resnet::{BlockKind, ResNetConfig, load_resnet};
use fastburn_vision::weights::{TensorMap, read_tensors};

/// torchvision's `ResNet(BasicBlock, [1, 1, 1, 1])`.
fn resnet10() -> ResNetConfig {
    ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1])
}

/// Returns the largest absolute difference divided by the largest absolute expected value.
fn relative_error(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len());
    let max_diff = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0f32, f32::max);
    let max_abs = expected.iter().map(|e| e.abs()).fold(0.0f32, f32::max);
    max_diff / max_abs
}

fn tensor<const D: usize>(map: &TensorMap, name: &str, device: &Device) -> Tensor<D> {
    let stored = map.get(name).unwrap();
    Tensor::from_data(
        TensorData::new(stored.values.clone(), stored.shape.clone()),
        device,
    )
}

/// Loads `weights` into `config` and checks features and logits against `expected`.
fn assert_parity(config: &ResNetConfig, weights: &str, expected: &str) {
    let device = Device::default();
    let model = load_resnet(config, &fixture(weights), &device)
        .unwrap()
        .valid();
    let expected = read_tensors(&fixture(expected)).unwrap();
    let input: Tensor<4> = tensor(&expected, "input", &device);

    let features = model.forward_features(input.clone());
    assert_eq!(features.dims(), [2, 512, 7, 7]);
    let features = features.into_data().try_to_vec::<f32>().unwrap();
    let error = relative_error(&features, &expected.get("features").unwrap().values);
    assert!(
        error <= 1e-4,
        "{weights}: features differ by {error:e} relative"
    );

    let logits = model.forward(input);
    assert_eq!(logits.dims(), [2, 1000]);
    let logits = logits.into_data().try_to_vec::<f32>().unwrap();
    let error = relative_error(&logits, &expected.get("logits").unwrap().values);
    assert!(
        error <= 1e-4,
        "{weights}: logits differ by {error:e} relative"
    );
}

#[test]
fn resnet34_zip_matches_pytorch() {
    assert_parity(
        &ResNetConfig::resnet34(),
        "resnet34-random.pth",
        "resnet34-random-expected.safetensors",
    );
}

#[test]
fn resnet10_legacy_matches_pytorch() {
    assert_parity(
        &resnet10(),
        "resnet10-random-legacy.pth",
        "resnet10-random-expected.safetensors",
    );
}

#[test]
fn resnet10_safetensors_matches_pytorch() {
    assert_parity(
        &resnet10(),
        "resnet10-random.safetensors",
        "resnet10-random-expected.safetensors",
    );
}

#[test]
fn resnet10_onnx_matches_pytorch() {
    assert_parity(
        &resnet10(),
        "resnet10-random.onnx",
        "resnet10-random-expected.safetensors",
    );
}

#[test]
fn resnet10_folded_onnx_matches_pytorch() {
    assert_parity(
        &resnet10(),
        "resnet10-random-folded.onnx",
        "resnet10-random-expected.safetensors",
    );
}

#[test]
fn folded_onnx_reports_folding() {
    let path = fixture("resnet10-random-folded.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let folded = read_onnx_resnet(Path::new(&path), &bytes, &resnet10()).unwrap();
    assert!(folded.batch_norm_folded);

    let path = fixture("resnet10-random.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let unfolded = read_onnx_resnet(&path, &bytes, &resnet10()).unwrap();
    assert!(!unfolded.batch_norm_folded);

    // The unfolded export carries torchvision names, so the topology mapping can be
    // checked against the file's own initializer names.
    let by_name = read_tensors(&path).unwrap();
    for (name, tensor) in unfolded.tensors.iter() {
        let named = by_name
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in the file"));
        assert_eq!(named.values, tensor.values, "{name}");
    }
}
