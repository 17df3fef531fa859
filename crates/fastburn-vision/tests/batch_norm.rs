//! Batch-norm behaviour that fine-tuning relies on: PyTorch's momentum convention while
//! training, running statistics in eval mode.

mod common;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use common::fixture;
use fastburn_vision::resnet::{BlockKind, ResNetConfig, load_resnet};
use fastburn_vision::weights::read_tensors;

#[test]
fn running_mean_follows_pytorch_momentum() {
    let device = Device::default().autodiff();
    let model = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1]).init(&device);
    let bn = model.bn1.clone();

    // A constant batch: every channel's batch mean is 2, its biased variance 0.
    let input = Tensor::<4>::full([2, 64, 4, 4], 2.0, &device);
    let _ = bn.forward(input);

    // PyTorch: running = (1 - 0.1) * running + 0.1 * batch, from mean 0 and variance 1.
    // `value()` may lag one update behind, so the synced value is read.
    let mean = bn
        .running_mean
        .value_sync()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let var = bn
        .running_var
        .value_sync()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert!(mean.iter().all(|m| (m - 0.2).abs() < 1e-6), "{mean:?}");
    assert!(var.iter().all(|v| (v - 0.9).abs() < 1e-6), "{var:?}");
}

#[test]
fn valid_mode_uses_running_stats() {
    // On an autodiff device a module trains its batch norms unless `valid()` is called:
    // this is the learner's validation path, and must reproduce PyTorch's eval mode.
    let device = Device::default().autodiff();
    let config = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1]);
    let model = load_resnet(&config, &fixture("resnet10-random.safetensors"), &device)
        .unwrap()
        .valid();
    let expected = read_tensors(&fixture("resnet10-random-expected.safetensors")).unwrap();
    let input = expected.get("input").unwrap();
    let input = Tensor::<4>::from_data(
        TensorData::new(input.values.clone(), input.shape.clone()),
        &device,
    );

    let logits = model
        .forward(input)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let want = &expected.get("logits").unwrap().values;
    let max_abs = want.iter().fold(0.0f32, |acc, v| acc.max(v.abs()));
    let max_diff = logits
        .iter()
        .zip(want)
        .fold(0.0f32, |acc, (a, b)| acc.max((a - b).abs()));
    assert!(
        max_diff / max_abs <= 1e-4,
        "relative error {}",
        max_diff / max_abs
    );
}
