//! `conv_bn` with the batch norm folded into the convolution (Flex, no autodiff) against the
//! layers run one after the other.
#![cfg(feature = "flex")]

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Distribution, Tensor};
use fastburn_vision::conv::{self, Activation, conv_bn};

/// Creates a convolution and a batch norm whose statistics are far from the identity, so
/// that a folding mistake shows.
fn layer(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: PaddingConfig2d,
    bias: bool,
    device: &Device,
) -> (Conv2d, BatchNorm) {
    let conv = Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(padding)
        .with_bias(bias)
        .init(device);
    let mut bn = BatchNormConfig::new(channels[1]).init(device);
    let per_channel = |low: f64, high: f64| {
        Tensor::<1>::random([channels[1]], Distribution::Uniform(low, high), device)
    };
    bn.gamma = Param::from_tensor(per_channel(0.2, 2.0));
    bn.beta = Param::from_tensor(per_channel(-1.0, 1.0));
    bn.running_mean = RunningState::new(per_channel(-0.5, 0.5));
    bn.running_var = RunningState::new(per_channel(0.1, 3.0));
    (conv, bn)
}

/// Computes what `conv_bn` computes, layer by layer.
fn reference(
    conv: &Conv2d,
    bn: &BatchNorm,
    input: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
) -> Tensor<4> {
    let output = bn.forward(conv::forward(conv, input));
    activation.apply(match residual {
        Some(residual) => output + residual,
        None => output,
    })
}

fn max_relative_error(actual: Tensor<4>, expected: Tensor<4>) -> f32 {
    let scale = expected.clone().abs().max().into_scalar::<f32>().max(1e-6);
    let diff = (actual - expected).abs().max().into_scalar::<f32>();
    diff / scale
}

#[test]
fn folded_matches_layer_by_layer() {
    let device = Device::flex();
    let normal = Distribution::Normal(0.0, 1.0);
    let explicit = PaddingConfig2d::Explicit(1, 1, 1, 1);
    let cases = [
        // ResNet's second 3×3 convolution of a block: residual, then ReLU.
        (
            [4, 4],
            3,
            1,
            explicit.clone(),
            false,
            [3, 4, 9, 9],
            true,
            Activation::Relu,
        ),
        // A stride-2 first convolution, one image.
        (
            [4, 6],
            3,
            2,
            explicit,
            false,
            [1, 4, 9, 9],
            false,
            Activation::Relu,
        ),
        // The 1×1 downsample: no activation.
        (
            [4, 6],
            1,
            2,
            PaddingConfig2d::Valid,
            false,
            [2, 4, 9, 8],
            false,
            Activation::Identity,
        ),
        // EfficientNet's stem: "SAME" padding, stride 2, ReLU6; and a convolution bias.
        (
            [3, 5],
            3,
            2,
            PaddingConfig2d::Same,
            true,
            [2, 3, 10, 11],
            false,
            Activation::Relu6,
        ),
        // A pointwise projection with a residual and no activation.
        (
            [6, 6],
            1,
            1,
            PaddingConfig2d::Valid,
            false,
            [2, 6, 5, 7],
            true,
            Activation::Identity,
        ),
    ];

    for (index, (channels, kernel, stride, padding, bias, input, add, activation)) in
        cases.into_iter().enumerate()
    {
        let (conv, bn) = layer(channels, kernel, stride, padding, bias, &device);
        let x = Tensor::<4>::random(input, normal, &device).mul_scalar(3.0);
        let shape = conv::forward(&conv, x.clone()).dims();
        let residual = add.then(|| Tensor::<4>::random(shape, normal, &device));

        let expected = reference(&conv, &bn, x.clone(), residual.clone(), activation);
        let output = conv_bn(&conv, &bn, x, residual, activation);

        assert_eq!(output.dims(), expected.dims(), "case {index}: shape");
        let error = max_relative_error(output, expected);
        assert!(error < 1e-5, "case {index}: differs by {error} relative");
    }
}

/// Copies a batch norm into new parameters and running statistics, so that two runs do not
/// update each other's statistics.
fn copy(bn: &BatchNorm, device: &Device) -> BatchNorm {
    let mut copied = BatchNormConfig::new(bn.gamma.dims()[0]).init(device);
    copied.gamma = Param::from_tensor(bn.gamma.val());
    copied.beta = Param::from_tensor(bn.beta.val());
    copied.running_mean = RunningState::new(bn.running_mean.value());
    copied.running_var = RunningState::new(bn.running_var.value());
    copied
}

/// The output and the gradients of x, the convolution's weight, gamma, beta and the
/// residual for the loss `sum(output * probe)`.
struct Trained {
    output: Tensor<4>,
    grads: Vec<Tensor<1>>,
}

fn train_step(
    conv: &Conv2d,
    bn: &BatchNorm,
    layer_fn: fn(&Conv2d, &BatchNorm, Tensor<4>, Option<Tensor<4>>, Activation) -> Tensor<4>,
    (x, residual, probe): (&Tensor<4>, Option<&Tensor<4>>, &Tensor<4>),
    activation: Activation,
) -> Trained {
    let x = x.clone().detach().require_grad();
    let residual = residual.map(|residual| residual.clone().detach().require_grad());
    let output = layer_fn(conv, bn, x.clone(), residual.clone(), activation);
    let grads = (output.clone() * probe.clone()).sum().backward();

    let flat = |tensor: Tensor<4>| tensor.flatten::<1>(0, 3);
    let mut all = vec![
        flat(Tensor::from_inner(
            x.grad(&grads).expect("x has a gradient"),
        )),
        flat(Tensor::from_inner(
            conv.weight.grad(&grads).expect("weight has a gradient"),
        )),
        Tensor::from_inner(bn.gamma.grad(&grads).expect("gamma has a gradient")),
        Tensor::from_inner(bn.beta.grad(&grads).expect("beta has a gradient")),
    ];
    if let Some(residual) = residual {
        all.push(flat(Tensor::from_inner(
            residual.grad(&grads).expect("the residual has a gradient"),
        )));
    }
    Trained {
        output: output.detach(),
        grads: all,
    }
}

fn relative_error_1d(actual: Tensor<1>, expected: Tensor<1>) -> f32 {
    let scale = expected.clone().abs().max().into_scalar::<f32>().max(1e-6);
    (actual - expected).abs().max().into_scalar::<f32>() / scale
}

#[test]
fn training_matches_layer_by_layer() {
    // With autodiff the batch norm normalises with the batch's own statistics: the fused
    // kernel must give Burn's output, gradients and running statistics.
    let device = Device::flex().autodiff();
    let normal = Distribution::Normal(0.0, 1.0);
    let names = ["x", "weight", "gamma", "beta", "residual"];
    // Activation, residual, shape and an offset added to the input. The last case has planes
    // longer than the kernel's summation blocks and a mean far above the spread.
    let cases = [
        (Activation::Relu, true, [3, 4, 6, 5], 0.0),
        (Activation::Relu6, false, [3, 4, 6, 5], 0.0),
        (Activation::Identity, false, [3, 4, 6, 5], 0.0),
        (Activation::Identity, true, [3, 4, 6, 5], 0.0),
        (Activation::Relu, true, [2, 4, 20, 18], 300.0),
    ];

    for (index, (activation, add, shape, offset)) in cases.into_iter().enumerate() {
        let padding = PaddingConfig2d::Explicit(1, 1, 1, 1);
        let (conv, bn) = layer([4, 4], 3, 1, padding, false, &device);
        let expected_bn = copy(&bn, &device);
        let x = Tensor::<4>::random(shape, normal, &device)
            .mul_scalar(3.0)
            .add_scalar(offset);
        let residual = add.then(|| Tensor::<4>::random(shape, normal, &device));
        let probe = Tensor::<4>::random(shape, normal, &device);
        let inputs = (&x, residual.as_ref(), &probe);

        let expected = train_step(&conv, &expected_bn, reference, inputs, activation);
        let actual = train_step(&conv, &bn, conv_bn, inputs, activation);

        let error = max_relative_error(actual.output, expected.output);
        assert!(error < 1e-5, "case {index}: output differs by {error}");
        for ((name, grad), expected) in names.iter().zip(actual.grads).zip(expected.grads) {
            let error = relative_error_1d(grad, expected);
            assert!(
                error < 1e-4,
                "case {index}: {name} gradient differs by {error}"
            );
        }
        let error = relative_error_1d(
            bn.running_mean.value_sync(),
            expected_bn.running_mean.value_sync(),
        );
        assert!(
            error < 1e-5,
            "case {index}: running mean differs by {error}"
        );
        let error = relative_error_1d(
            bn.running_var.value_sync(),
            expected_bn.running_var.value_sync(),
        );
        assert!(
            error < 1e-5,
            "case {index}: running variance differs by {error}"
        );
    }
}

#[test]
fn relu_keeps_nan() {
    let device = Device::flex();
    let (conv, bn) = layer([2, 3], 1, 1, PaddingConfig2d::Valid, false, &device);
    let mut values = vec![1.0f32; 2 * 4 * 4];
    values[5] = f32::NAN;
    let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(values, [1, 2, 4, 4]), &device);

    let output = conv_bn(&conv, &bn, x, None, Activation::Relu);
    let nan = output.is_nan().any().into_scalar::<bool>();
    assert!(nan, "a NaN input must not be hidden by the activation");
}

#[test]
fn training_nan_matches_burn() {
    // A NaN input makes Burn's batch variance, and so its running variance, NaN: the fused
    // kernel must not clamp it to 0. A NaN residual makes the output NaN there, and Burn's
    // ReLU backward still passes the gradient at a NaN output.
    let device = Device::flex().autodiff();
    let padding = PaddingConfig2d::Valid;
    let shape = [2, 3, 4, 4];
    let len = shape.iter().product::<usize>();
    let with_nan = |at: usize| {
        let mut values: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
        values[at] = f32::NAN;
        Tensor::<4>::from_data(burn::tensor::TensorData::new(values, shape), &device)
    };
    let is_nan = |tensor: Tensor<1>| tensor.is_nan().into_data().try_to_vec::<bool>().unwrap();

    let (conv, bn) = layer([3, 3], 1, 1, padding.clone(), false, &device);
    let expected_bn = copy(&bn, &device);
    let _ = reference(&conv, &expected_bn, with_nan(5), None, Activation::Relu);
    let _ = conv_bn(&conv, &bn, with_nan(5), None, Activation::Relu);
    assert_eq!(
        is_nan(bn.running_var.value_sync()),
        is_nan(expected_bn.running_var.value_sync()),
        "running variance after a NaN input"
    );

    let (conv, bn) = layer([3, 3], 1, 1, padding, false, &device);
    let expected_bn = copy(&bn, &device);
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let probe = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let residual = with_nan(4);
    let inputs = (&x, Some(&residual), &probe);
    let expected = train_step(&conv, &expected_bn, reference, inputs, Activation::Relu);
    let actual = train_step(&conv, &bn, conv_bn, inputs, Activation::Relu);
    let names = ["x", "weight", "gamma", "beta", "residual"];
    for ((name, grad), expected) in names.iter().zip(actual.grads).zip(expected.grads) {
        let error = relative_error_1d(grad, expected);
        assert!(error < 1e-4, "{name} gradient differs by {error}");
    }
}

#[test]
fn training_single_value_gives_beta() {
    // One image of one pixel: each channel's only value is its mean, so the normalised value
    // is exactly 0 and the output exactly beta, as from Burn's batch norm.
    let device = Device::flex().autodiff();
    let (conv, bn) = layer([3, 4], 1, 1, PaddingConfig2d::Valid, false, &device);
    let x = Tensor::<4>::random([1, 3, 1, 1], Distribution::Normal(0.0, 100.0), &device);

    let output = conv_bn(&conv, &bn, x, None, Activation::Identity);
    let output = output
        .flatten::<1>(0, 3)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let beta = bn.beta.val().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(output, beta);
}
