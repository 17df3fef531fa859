//! fastburn's max pooling against Burn's `MaxPool2d` on Flex: outputs, input gradients, NaN
//! and the settings that fall back to Burn.
#![cfg(feature = "flex")]

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use fastburn_vision::pool::{Window, max_pool2d};

fn pool(kernel: usize, stride: usize, padding: usize) -> MaxPool2d {
    MaxPool2dConfig::new([kernel, kernel])
        .with_strides([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .init()
}

/// Returns the output and the input gradient of `sum(pool(x) * probe)`.
fn run(
    pooling: impl Fn(Tensor<4>) -> Tensor<4>,
    x: &Tensor<4>,
    probe: &Tensor<4>,
) -> (Tensor<4>, Tensor<4>) {
    let x = x.clone().detach().require_grad();
    let output = pooling(x.clone());
    let grads = (output.clone() * probe.clone()).sum().backward();
    let grad = x.grad(&grads).expect("x has a gradient");
    (output.detach(), Tensor::from_inner(grad))
}

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn matches_burn_forward_and_backward() {
    let device = Device::flex().autodiff();
    // (kernel, stride, padding, input): the ResNet stem's 3×3/2 pad 1 on odd and even sizes,
    // overlapping and disjoint windows, and one image with one channel.
    let cases = [
        (3, 2, 1, [2, 3, 12, 12]),
        (3, 2, 1, [1, 2, 11, 9]),
        (2, 2, 0, [2, 2, 8, 6]),
        (3, 1, 1, [1, 1, 5, 5]),
        (5, 3, 2, [2, 2, 13, 7]),
    ];
    for (index, (kernel, stride, padding, shape)) in cases.into_iter().enumerate() {
        let layer = pool(kernel, stride, padding);
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let out_shape = layer.forward(x.clone()).dims();
        let probe = Tensor::<4>::random(out_shape, Distribution::Normal(0.0, 1.0), &device);

        let (expected, expected_grad) = run(|x| layer.forward(x), &x, &probe);
        let (output, grad) = run(|x| max_pool2d(&layer, x), &x, &probe);

        assert_eq!(output.dims(), expected.dims(), "case {index}: shape");
        assert_eq!(max_abs_diff(output, expected), 0.0, "case {index}: output");
        let diff = max_abs_diff(grad, expected_grad);
        assert!(
            diff < 1e-6,
            "case {index}: input gradient differs by {diff}"
        );
    }
}

#[test]
fn tied_window_routes_gradient_once() {
    // Every value equal: each window's gradient goes to one position, so the input
    // gradient sums to the number of outputs, as in PyTorch.
    let device = Device::flex().autodiff();
    let layer = pool(3, 2, 1);
    let x = Tensor::<4>::ones([1, 1, 6, 6], &device).require_grad();
    let output = max_pool2d(&layer, x.clone());
    let outputs = output.dims().iter().product::<usize>() as f32;
    let grads = output.sum().backward();
    let total = Tensor::<4>::from_inner(x.grad(&grads).expect("x has a gradient"))
        .sum()
        .into_scalar::<f32>();
    assert_eq!(total, outputs);
}

#[test]
fn nan_propagates() {
    let device = Device::flex();
    let mut values = vec![0.5f32; 16];
    values[5] = f32::NAN;
    let x = Tensor::<4>::from_data(TensorData::new(values, [1, 1, 4, 4]), &device);
    let output = max_pool2d(&pool(3, 2, 1), x)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    // Position (1, 1) lies in every 3×3 window of a 4×4 input with stride 2 and padding 1.
    assert!(output.iter().all(|value| value.is_nan()), "got {output:?}");
}

#[test]
fn other_settings_fall_back_to_burn() {
    let device = Device::flex();
    let x = Tensor::<4>::random([1, 2, 9, 9], Distribution::Normal(0.0, 1.0), &device);
    let layers = [
        MaxPool2dConfig::new([3, 3])
            .with_strides([2, 2])
            .with_padding(PaddingConfig2d::Same)
            .init(),
        MaxPool2dConfig::new([3, 3])
            .with_strides([2, 2])
            .with_ceil_mode(true)
            .init(),
        MaxPool2dConfig::new([3, 3]).with_dilation([2, 2]).init(),
        MaxPool2dConfig::new([2, 2])
            .with_padding(PaddingConfig2d::Explicit(0, 0, 1, 1))
            .init(),
    ];
    for (index, layer) in layers.iter().enumerate() {
        assert!(
            Window::of(layer, [9, 9]).is_none(),
            "case {index}: the kernel must not take it"
        );
        let diff = max_abs_diff(max_pool2d(layer, x.clone()), layer.forward(x.clone()));
        assert_eq!(diff, 0.0, "case {index}");
    }
}
