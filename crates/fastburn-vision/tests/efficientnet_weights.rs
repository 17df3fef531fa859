//! EfficientNet-Lite0 with its ImageNet weights against PyTorch's own outputs.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use fastburn_vision::efficientnet::{EfficientNetLite, EfficientNetLiteConfig, LITE0_WEIGHTS_FILE};
use fastburn_vision::weights::{self, TensorMap, WeightTensor, WeightsError};

fn weights_path() -> PathBuf {
    common::shared_dir()
        .join("weights")
        .join(LITE0_WEIGHTS_FILE)
}

/// Reads the PyTorch reference outputs: `input`, `features`, `logits` and `weight.<name>`.
fn expected() -> TensorMap {
    weights::read_tensors(&common::fixture("efficientnet-lite0-expected.safetensors")).unwrap()
}

fn pretrained(config: EfficientNetLiteConfig, device: &Device) -> EfficientNetLite {
    config
        .init(device)
        .unwrap()
        .load_file(&weights_path())
        .unwrap()
}

fn tensor4(tensor: &WeightTensor, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = tensor.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(tensor.values.clone(), shape), device)
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().unwrap()
}

/// Returns `max |got - want| / max |want|`.
fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "length differs");
    let scale = want.iter().fold(0.0_f32, |max, v| max.max(v.abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0_f32, |max, (g, w)| max.max((g - w).abs()));
    diff / scale
}

#[test]
fn strided_tensors_read_in_order() {
    let device = Device::default();
    let model = pretrained(EfficientNetLiteConfig::new(), &device);
    let file = weights::read_tensors(&weights_path()).unwrap();
    let expected = expected();

    let loaded = [
        ("_conv_stem.weight", model._conv_stem.weight.val()),
        (
            "_blocks.0._depthwise_conv.weight",
            model._blocks[0]._depthwise_conv.weight.val(),
        ),
        (
            "_blocks.1._expand_conv.weight",
            model._blocks[1]._expand_conv.as_ref().unwrap().weight.val(),
        ),
        (
            "_blocks.15._project_conv.weight",
            model._blocks[15]._project_conv.weight.val(),
        ),
    ];

    for (name, parameter) in loaded {
        let reference = expected.get(&format!("weight.{name}")).unwrap();
        let read = file.get(name).unwrap();
        assert_eq!(
            read.shape, reference.shape,
            "{name}: shape read from the file"
        );
        assert_eq!(
            read.values, reference.values,
            "{name}: values read from the file"
        );
        assert_eq!(
            parameter.dims().to_vec(),
            reference.shape,
            "{name}: parameter shape"
        );
        assert_eq!(
            values(parameter),
            reference.values,
            "{name}: parameter values"
        );
    }
}

#[test]
fn parameter_names_match_file() {
    let device = Device::default();
    let model = EfficientNetLiteConfig::new().init(&device).unwrap();
    let names: BTreeSet<String> = weights::pytorch_names(model).into_iter().collect();

    let file = weights::read_tensors(&weights_path()).unwrap();
    let keys: BTreeSet<String> = file
        .names()
        .filter(|name| !name.ends_with(".num_batches_tracked"))
        .map(str::to_string)
        .collect();

    assert_eq!(file.len(), 296);
    assert_eq!(keys.len(), 247);
    assert_eq!(names, keys);
}

#[test]
fn pretrained_matches_pytorch() {
    let device = Device::default();
    let model = pretrained(EfficientNetLiteConfig::new(), &device);
    let expected = expected();
    let input = tensor4(expected.get("input").unwrap(), &device);

    let features = model.forward_features(input.clone());
    let want = expected.get("features").unwrap();
    assert_eq!(features.dims().to_vec(), want.shape);
    let error = relative_error(&values(features), &want.values);
    assert!(
        error <= 1e-4,
        "features differ from PyTorch by {error:e} relative"
    );

    let logits = model.forward(input);
    let want = expected.get("logits").unwrap();
    assert_eq!(logits.dims().to_vec(), want.shape);
    let error = relative_error(&values(logits.clone()), &want.values);
    assert!(
        error <= 1e-4,
        "logits differ from PyTorch by {error:e} relative"
    );

    // Top-1 agrees on both images, whatever the classes are.
    let got = values(logits.argmax(1).float());
    let want = values(
        Tensor::<2>::from_data(TensorData::new(want.values.clone(), [2, 1000]), &device)
            .argmax(1)
            .float(),
    );
    assert_eq!(got, want);
}

#[test]
fn body_loads_without_classifier() {
    let device = Device::default();
    let body = pretrained(
        EfficientNetLiteConfig::new().with_num_classes(None),
        &device,
    );
    assert!(body._fc.is_none());

    // The ImageNet statistics of the last batch norm came through.
    let file = weights::read_tensors(&weights_path()).unwrap();
    let running_var = body._bn1.running_var.value();
    assert_eq!(
        values(running_var),
        file.get("_bn1.running_var").unwrap().values
    );
}

#[test]
fn wrong_file_names_keys() {
    let device = Device::default();
    let model = EfficientNetLiteConfig::new().init(&device).unwrap();
    let resnet = common::fixture("resnet10-random.safetensors");

    let error = model.load_file(&resnet).unwrap_err();
    let WeightsError::Mismatch {
        source_name,
        report,
    } = &error
    else {
        panic!("expected a key mismatch, got {error}");
    };
    assert!(
        source_name.contains("resnet10-random.safetensors"),
        "{source_name}"
    );
    assert!(
        report.missing.iter().any(|key| key == "_conv_stem.weight"),
        "{report}"
    );
    assert!(
        report.unexpected.iter().any(|key| key == "conv1.weight"),
        "{report}"
    );
}

#[test]
fn missing_file_is_io_error() {
    let device = Device::default();
    let model = EfficientNetLiteConfig::new().init(&device).unwrap();
    let path = std::env::temp_dir().join("fastburn-no-such-efficientnet.pth");

    let error = model.load_file(&path).unwrap_err();
    assert!(matches!(error, WeightsError::Io { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("fastburn-no-such-efficientnet.pth"),
        "{error}"
    );
}
