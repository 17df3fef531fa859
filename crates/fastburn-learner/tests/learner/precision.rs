//! Mixed precision: `to_bf16` and `to_fp16` train with half-precision convolutions, `f32`
//! parameters and, for float16, a dynamic loss scale.

use burn::tensor::{DType, Device, Distribution, Tensor};
use fastburn_learner::{LearnerModel, LossScaler, Lr, ParamGrads, Precision};

use crate::common::{TinyNet, tiny_learner};

#[test]
fn bf16_fit_learns_colours() {
    let mut learner = tiny_learner(64, 16);
    learner.to_bf16().unwrap();
    assert_eq!(learner.precision(), Precision::Bf16);
    assert!(
        learner.loss_scaler().is_none(),
        "bfloat16 needs no loss scale"
    );

    learner.fit_one_cycle(4, Lr::Value(2e-2)).unwrap();
    let after = learner.validate().unwrap();

    assert!(
        after.metrics[0] >= 0.9,
        "accuracy {} after training",
        after.metrics[0]
    );
    assert!(learner.recorder.losses.iter().all(|loss| loss.is_finite()));
}

#[test]
fn fp16_fit_keeps_master_weights() {
    let mut learner = tiny_learner(64, 16);
    learner.to_fp16().unwrap();
    learner.fit_one_cycle(4, Lr::Value(2e-2)).unwrap();
    let after = learner.validate().unwrap();

    assert!(
        after.metrics[0] >= 0.9,
        "accuracy {} after training",
        after.metrics[0]
    );
    let scaler = learner.loss_scaler().expect("float16 has a loss scale");
    assert!(
        scaler.scale >= 1.0 && scaler.scale <= LossScaler::MAX_SCALE,
        "scale {}",
        scaler.scale
    );
    let model = learner.model();
    assert_eq!(
        model.conv1.weight.val().dtype(),
        DType::F32,
        "parameters stay f32"
    );
    assert_eq!(
        model.bn1.gamma.val().dtype(),
        DType::F32,
        "batch norm stays f32"
    );
}

#[test]
fn to_fp32_drops_loss_scale() {
    let mut learner = tiny_learner(16, 8);
    learner.to_fp16().unwrap();
    learner.to_fp32();
    assert_eq!(learner.precision(), Precision::Fp32);
    assert!(learner.loss_scaler().is_none());
}

/// Gradients of the tiny net for one random batch, with the loss multiplied by `factor`.
fn grads_times(factor: f32) -> ParamGrads {
    let device = Device::default().autodiff();
    let model = TinyNet::new(2, &device);
    let images = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
    let loss = model.forward(images).sum().mul_scalar(factor);
    ParamGrads::from_backward(&model, loss.backward())
}

#[test]
fn loss_scale_halves_on_overflow() {
    let mut scaler = LossScaler::default();
    let mut grads = grads_times(f32::INFINITY);
    assert!(!grads.all_finite());

    assert!(
        !scaler.unscale(&mut grads).unwrap(),
        "an overflowing step is skipped"
    );
    assert_eq!(scaler.scale, LossScaler::INITIAL_SCALE / 2.0);
    assert_eq!(scaler.skipped_steps, 1);
    assert_eq!(scaler.good_steps, 0);
}

#[test]
fn loss_scale_grows_after_clean_steps() {
    let mut scaler = LossScaler {
        scale: 8.0,
        good_steps: LossScaler::GROWTH_INTERVAL - 1,
        skipped_steps: 0,
    };
    let mut grads = grads_times(1.0);
    let before = grads.global_norm();

    assert!(scaler.unscale(&mut grads).unwrap(), "a finite step runs");
    assert!(
        (grads.global_norm() - before / 8.0).abs() <= 1e-6 * before,
        "gradients divided by the scale"
    );
    assert_eq!(scaler.scale, 16.0);
    assert_eq!(scaler.good_steps, 0);
}

#[test]
fn loss_scale_one_overflow_is_an_error() {
    let mut scaler = LossScaler {
        scale: 1.0,
        good_steps: 0,
        skipped_steps: 0,
    };
    let mut grads = grads_times(f32::INFINITY);
    let error = scaler.unscale(&mut grads).unwrap_err().to_string();
    assert!(error.contains("loss scale 1"), "{error}");
}

#[test]
fn lr_find_restores_loss_scale() {
    let mut learner = tiny_learner(64, 16);
    learner.to_fp16().unwrap();
    let before = learner.loss_scaler().cloned();
    learner.lr_find().unwrap();
    assert_eq!(learner.loss_scaler().cloned(), before);
}
