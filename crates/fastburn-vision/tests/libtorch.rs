//! Convolution and training batch norm on LibTorch, differentiated by LibTorch's autograd,
//! against Burn's own operations on the same device.
#![cfg(feature = "tch")]
// Burn 0.22.1 marks burn-tch deprecated; these tests exercise it on purpose.
#![allow(deprecated)]

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Distribution, Tensor};
use fastburn_vision::conv::{self, Activation, autocast, conv_bn};

fn device() -> Device {
    Device::libtorch().autodiff()
}

fn normal<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Returns ‖actual − expected‖ / ‖expected‖. Unlike the largest difference, it tolerates the
/// few ReLU outputs that bf16 rounding moves across zero.
fn norm_error<const D: usize>(actual: Tensor<D>, expected: Tensor<D>) -> f32 {
    let norm = |tensor: Tensor<D>| tensor.powi_scalar(2).sum().sqrt().into_scalar::<f32>();
    norm(actual - expected.clone()) / norm(expected).max(1e-6)
}

fn relative_error<const D: usize>(actual: Tensor<D>, expected: Tensor<D>) -> f32 {
    let scale = expected.clone().abs().max().into_scalar::<f32>().max(1e-6);
    (actual - expected).abs().max().into_scalar::<f32>() / scale
}

/// The output and the gradients of the input, the weight and the bias for the loss
/// `sum(output * probe)`. A gradient is `None` where that operand is not tracked.
struct Step {
    output: Tensor<4>,
    x: Option<Tensor<4>>,
    weight: Option<Tensor<4>>,
    bias: Option<Tensor<1>>,
}

type ConvFn = fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>) -> Tensor<4>;

fn conv_step(
    conv: ConvFn,
    [x, weight]: [&Tensor<4>; 2],
    bias: Option<&Tensor<1>>,
    options: &ConvOptions<2>,
    probe: &Tensor<4>,
    weight_tracked: bool,
) -> Step {
    let x = x.clone().detach().require_grad();
    let weight = match weight_tracked {
        true => weight.clone().detach().require_grad(),
        false => weight.clone().detach(),
    };
    let bias = bias.map(|bias| bias.clone().detach().require_grad());
    let output = conv(x.clone(), weight.clone(), bias.clone(), options.clone());
    // Burn may reuse an output's buffer for the next operation; the recorded graph must not
    // mind.
    let grads = (output.clone().add_scalar(1.0) * probe.clone())
        .sum()
        .backward();
    Step {
        output: output.detach(),
        x: x.grad(&grads).map(Tensor::from_inner),
        weight: weight.grad(&grads).map(Tensor::from_inner),
        bias: bias
            .and_then(|bias| bias.grad(&grads))
            .map(Tensor::from_inner),
    }
}

fn assert_close<const D: usize>(
    label: &str,
    actual: Option<Tensor<D>>,
    expected: Option<Tensor<D>>,
    tolerance: f32,
) {
    match (actual, expected) {
        (Some(actual), Some(expected)) => {
            let error = relative_error(actual, expected);
            assert!(error < tolerance, "{label} differs by {error}");
        }
        (None, None) => {}
        (actual, _) => panic!(
            "{label}: gradient present {} but expected the opposite",
            actual.is_some()
        ),
    }
}

#[test]
fn convolutions_match_burn() {
    let device = device();
    // (input, weight, stride, padding as (begin, end) per axis, groups, bias)
    let cases = [
        ([2, 4, 9, 8], [6, 4, 3, 3], 1, [(1, 1), (1, 1)], 1, true),
        // TensorFlow "SAME" at stride 2: the extra pixel at the end.
        ([2, 4, 9, 8], [5, 4, 3, 3], 2, [(0, 1), (1, 1)], 1, false),
        // Depthwise, as in EfficientNet's blocks.
        ([3, 6, 11, 11], [6, 1, 5, 5], 2, [(1, 2), (1, 2)], 6, false),
        ([2, 8, 5, 5], [4, 8, 1, 1], 1, [(0, 0), (0, 0)], 1, true),
    ];

    for (index, (input, kernel, stride, padding, groups, with_bias)) in
        cases.into_iter().enumerate()
    {
        let options = ConvOptions::new_with_padding([stride; 2], padding, [1, 1], groups);
        let x = normal(input, &device);
        let weight = normal(kernel, &device);
        let bias = with_bias.then(|| normal([kernel[0]], &device));
        let output_shape =
            burn::tensor::module::conv2d(x.clone(), weight.clone(), bias.clone(), options.clone())
                .dims();
        let probe = normal(output_shape, &device);

        for weight_tracked in [true, false] {
            let operands = [&x, &weight];
            let actual = conv_step(
                conv::conv2d,
                operands,
                bias.as_ref(),
                &options,
                &probe,
                weight_tracked,
            );
            let expected = conv_step(
                burn::tensor::module::conv2d,
                operands,
                bias.as_ref(),
                &options,
                &probe,
                weight_tracked,
            );
            let case = format!("case {index}, weight tracked: {weight_tracked}");
            assert_close(
                &format!("{case}: output"),
                Some(actual.output),
                Some(expected.output),
                1e-5,
            );
            assert_close(&format!("{case}: x gradient"), actual.x, expected.x, 1e-4);
            assert_close(
                &format!("{case}: weight gradient"),
                actual.weight,
                expected.weight,
                1e-4,
            );
            assert_close(
                &format!("{case}: bias gradient"),
                actual.bias,
                expected.bias,
                1e-4,
            );
        }
    }
}

#[test]
fn bf16_convolution_gradients_stay_f32_and_close() {
    let device = device();
    let options = ConvOptions::new_with_padding([1, 1], [(1, 1), (1, 1)], [1, 1], 1);
    let x = normal([2, 8, 7, 7], &device);
    let weight = normal([8, 8, 3, 3], &device).mul_scalar(0.2);
    let probe = normal([2, 8, 7, 7], &device);

    let half = |x, weight, bias, options| {
        autocast(Some(DType::BF16), || conv::conv2d(x, weight, bias, options))
    };
    let actual = conv_step(half, [&x, &weight], None, &options, &probe, true);
    let expected = conv_step(
        burn::tensor::module::conv2d,
        [&x, &weight],
        None,
        &options,
        &probe,
        true,
    );

    assert_eq!(actual.output.dtype(), DType::F32);
    let [x_grad, weight_grad] = [
        actual.x.as_ref().map(Tensor::dtype),
        actual.weight.as_ref().map(Tensor::dtype),
    ];
    assert_eq!(
        (x_grad, weight_grad),
        (Some(DType::F32), Some(DType::F32)),
        "master gradients are f32"
    );
    assert_close(
        "bf16 output",
        Some(actual.output),
        Some(expected.output),
        2e-2,
    );
    assert_close("bf16 x gradient", actual.x, expected.x, 3e-2);
    assert_close("bf16 weight gradient", actual.weight, expected.weight, 3e-2);
}

/// Creates a convolution and a batch norm whose parameters and statistics are far from the identity.
fn layer(channels: usize, device: &Device) -> (Conv2d, BatchNorm) {
    let conv = Conv2dConfig::new([channels, channels], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device);
    let mut bn = BatchNormConfig::new(channels).init(device);
    let uniform =
        |low, high| Tensor::<1>::random([channels], Distribution::Uniform(low, high), device);
    bn.gamma = Param::from_tensor(uniform(0.2, 2.0));
    bn.beta = Param::from_tensor(uniform(-1.0, 1.0));
    bn.running_mean = RunningState::new(uniform(-0.5, 0.5));
    bn.running_var = RunningState::new(uniform(0.1, 3.0));
    (conv, bn)
}

fn copy(bn: &BatchNorm, device: &Device) -> BatchNorm {
    let mut copied = BatchNormConfig::new(bn.gamma.dims()[0]).init(device);
    copied.gamma = Param::from_tensor(bn.gamma.val());
    copied.beta = Param::from_tensor(bn.beta.val());
    copied.running_mean = RunningState::new(bn.running_mean.value());
    copied.running_var = RunningState::new(bn.running_var.value());
    copied
}

/// `conv_bn` as Burn's layers compute it.
fn burn_layers(
    conv: &Conv2d,
    bn: &BatchNorm,
    x: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
) -> Tensor<4> {
    let output = bn.forward(conv.forward(x));
    activation.apply(match residual {
        Some(residual) => output + residual,
        None => output,
    })
}

type LayerFn = fn(&Conv2d, &BatchNorm, Tensor<4>, Option<Tensor<4>>, Activation) -> Tensor<4>;

/// The names of [`layer_step`]'s results, in order.
const LAYER_STEP_NAMES: [&str; 8] = [
    "output",
    "x gradient",
    "weight gradient",
    "gamma gradient",
    "beta gradient",
    "residual gradient",
    "running mean",
    "running variance",
];

/// Returns the output, the gradients of x, the weight, gamma, beta and the residual, and the
/// running statistics after the step.
fn layer_step(
    layer: LayerFn,
    (conv, bn): (&Conv2d, &BatchNorm),
    x: &Tensor<4>,
    residual: &Tensor<4>,
    activation: Activation,
    probe: &Tensor<4>,
) -> Vec<Tensor<1>> {
    let x = x.clone().detach().require_grad();
    let residual = residual.clone().detach().require_grad();
    let output = layer(conv, bn, x.clone(), Some(residual.clone()), activation);
    let grads = (output.clone() * probe.clone()).sum().backward();
    let flat = |tensor: Tensor<4>| tensor.flatten::<1>(0, 3);
    vec![
        flat(output.detach()),
        flat(Tensor::from_inner(
            x.grad(&grads).expect("x has a gradient"),
        )),
        flat(Tensor::from_inner(
            conv.weight.grad(&grads).expect("the weight has a gradient"),
        )),
        Tensor::from_inner(bn.gamma.grad(&grads).expect("gamma has a gradient")),
        Tensor::from_inner(bn.beta.grad(&grads).expect("beta has a gradient")),
        flat(Tensor::from_inner(
            residual.grad(&grads).expect("the residual has a gradient"),
        )),
        bn.running_mean.value_sync(),
        bn.running_var.value_sync(),
    ]
}

#[test]
fn training_conv_bn_matches_burn() {
    let device = device();

    for activation in [Activation::Relu, Activation::Relu6, Activation::Identity] {
        let (conv, bn) = layer(4, &device);
        // A copy with running statistics of its own: a clone would share them.
        let burn_bn = copy(&bn, &device);
        let x = normal([3, 4, 6, 5], &device).mul_scalar(3.0);
        let residual = normal([3, 4, 6, 5], &device);
        let probe = normal([3, 4, 6, 5], &device);

        let initial_mean = bn.running_mean.value_sync();
        let actual = layer_step(conv_bn, (&conv, &bn), &x, &residual, activation, &probe);
        let moved = relative_error(bn.running_mean.value_sync(), initial_mean);
        assert!(
            moved > 1e-3,
            "{activation:?}: the running mean did not move"
        );
        let expected = layer_step(
            burn_layers,
            (&conv, &burn_bn),
            &x,
            &residual,
            activation,
            &probe,
        );
        for ((name, actual), expected) in LAYER_STEP_NAMES.iter().zip(actual).zip(expected) {
            let error = relative_error(actual, expected);
            assert!(error < 1e-4, "{activation:?}: {name} differs by {error}");
        }
    }
}

#[test]
fn one_value_per_channel_falls_back_to_burn() {
    // LibTorch rejects normalising a single value per channel in training; Burn gives beta.
    let device = device();
    let (conv, bn) = layer(3, &device);
    let x = normal([1, 3, 1, 1], &device).require_grad();
    let output = conv_bn(&conv, &bn, x, None, Activation::Identity);
    let error = relative_error(output.flatten::<1>(0, 3), bn.beta.val());
    assert!(error < 1e-5, "output differs from beta by {error}");
}

#[test]
fn residual_gradient_not_shared() {
    // Without an activation the residual's gradient equals the output's. Burn's addition
    // below gives both of its operands one gradient tensor, so a residual gradient that
    // aliased it would let Burn's in-place accumulation into `residual` change `other`'s.
    let device = device();
    let (conv, bn) = layer(4, &device);
    let x = normal([2, 4, 5, 5], &device).require_grad();
    let residual = normal([2, 4, 5, 5], &device).require_grad();
    let other = normal([2, 4, 5, 5], &device).require_grad();
    let probe = normal([2, 4, 5, 5], &device);
    let second = normal([2, 4, 5, 5], &device);

    let output = conv_bn(&conv, &bn, x, Some(residual.clone()), Activation::Identity);
    let objective = ((output + other.clone()) * probe.clone()).sum()
        + (residual.clone() * second.clone()).sum();
    let grads = objective.backward();

    let gradient = |tensor: &Tensor<4>| Tensor::<4>::from_inner(tensor.grad(&grads).unwrap());
    let error = relative_error(gradient(&other).flatten::<1>(0, 3), probe.clone().flatten(0, 3));
    assert!(error < 1e-6, "the other operand's gradient differs by {error}");
    let expected = (probe + second).flatten::<1>(0, 3);
    let error = relative_error(gradient(&residual).flatten::<1>(0, 3), expected);
    assert!(error < 1e-6, "the residual's gradient differs by {error}");
}

#[test]
fn bf16_conv_bn_keeps_bf16_activations() {
    // Under autocast on LibTorch the activations stay bf16 between layers, while the
    // gradients of the f32 parameters and the running statistics stay f32.
    let device = device();
    let (conv, bn) = layer(4, &device);
    let burn_bn = copy(&bn, &device);
    let x = normal([3, 4, 6, 5], &device);
    let residual = normal([3, 4, 6, 5], &device);
    let probe = normal([3, 4, 6, 5], &device);

    let half = |conv: &Conv2d, bn: &BatchNorm, x, residual, activation| {
        let output = autocast(Some(DType::BF16), || {
            conv_bn(conv, bn, x, residual, activation)
        });
        assert_eq!(
            output.dtype(),
            DType::BF16,
            "conv_bn returns bf16 activations"
        );
        output.cast(DType::F32)
    };
    let actual = layer_step(half, (&conv, &bn), &x, &residual, Activation::Identity, &probe);
    let expected = layer_step(
        burn_layers,
        (&conv, &burn_bn),
        &x,
        &residual,
        Activation::Identity,
        &probe,
    );

    // Without an activation: bf16 rounding moves a few ReLU outputs across zero, and on these
    // 360 random values each one shifts the x gradient's error by about 0.06.
    for ((name, actual), expected) in LAYER_STEP_NAMES.iter().zip(actual).zip(expected) {
        assert_eq!(actual.dtype(), DType::F32, "{name} is f32");
        let error = norm_error(actual, expected);
        assert!(error < 3e-2, "{name} differs by {error}");
    }
}

#[test]
fn half_autocast_models_return_f32() {
    // The layers pass bf16 or f16 activations to each other, but the classifiers and callers
    // get the input's dtype back, with and without autodiff.
    use fastburn_vision::efficientnet::EfficientNetLiteConfig;
    use fastburn_vision::resnet::{BlockKind, ResNetConfig};

    for device in [Device::libtorch(), device()] {
        let resnet = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1])
            .with_num_classes(5)
            .init(&device);
        let efficientnet = EfficientNetLiteConfig::new()
            .with_num_classes(Some(5))
            .init(&device)
            .expect("valid configuration");
        let images = normal([2, 3, 32, 32], &device);

        for dtype in [DType::BF16, DType::F16] {
            let logits = autocast(Some(dtype), || resnet.forward(images.clone()));
            assert_eq!(logits.dtype(), DType::F32, "ResNet logits under {dtype:?}");
            let logits = autocast(Some(dtype), || efficientnet.forward(images.clone()));
            assert_eq!(
                logits.dtype(),
                DType::F32,
                "EfficientNet logits under {dtype:?}"
            );
        }
    }
}
