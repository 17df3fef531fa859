//! fastburn's gemm convolution against Burn's `conv2d` on the Flex backend: outputs and both
//! gradients, over strides, paddings, dilations, kernel sizes and batch sizes.
#![cfg(feature = "flex")]

use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use fastburn_vision::conv::conv2d;

/// One convolution case: input `[batch, channels_in, height, width]`, weight `[channels_out,
/// channels_in, kh, kw]`.
struct Case {
    input: [usize; 4],
    weight: [usize; 4],
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
    bias: bool,
}

fn cases() -> Vec<Case> {
    let case = |input, weight, stride, padding, dilation, bias| Case {
        input,
        weight,
        stride,
        padding,
        dilation,
        bias,
    };
    vec![
        // ResNet's 3×3, stride 1 and 2, and its 1×1 stride-2 downsample.
        case(
            [3, 4, 9, 9],
            [5, 4, 3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            false,
        ),
        case(
            [3, 4, 9, 9],
            [5, 4, 3, 3],
            [2, 2],
            [(1, 1), (1, 1)],
            [1, 1],
            false,
        ),
        case(
            [3, 4, 9, 8],
            [6, 4, 1, 1],
            [2, 2],
            [(0, 0), (0, 0)],
            [1, 1],
            false,
        ),
        // Pointwise: the image is its own column matrix.
        case(
            [2, 6, 5, 7],
            [3, 6, 1, 1],
            [1, 1],
            [(0, 0), (0, 0)],
            [1, 1],
            true,
        ),
        // The stem's 7×7 stride 2 on 3 channels.
        case(
            [2, 3, 16, 16],
            [4, 3, 7, 7],
            [2, 2],
            [(3, 3), (3, 3)],
            [1, 1],
            false,
        ),
        // TensorFlow "SAME" padding for stride 2: more padding after than before.
        case(
            [3, 3, 10, 11],
            [4, 3, 3, 3],
            [2, 2],
            [(0, 1), (1, 1)],
            [1, 1],
            true,
        ),
        case(
            [1, 2, 8, 8],
            [2, 2, 5, 5],
            [2, 2],
            [(1, 2), (1, 2)],
            [1, 1],
            false,
        ),
        // Dilation, unequal strides and rectangular kernels.
        case(
            [2, 3, 11, 9],
            [4, 3, 3, 2],
            [1, 2],
            [(2, 2), (0, 1)],
            [2, 1],
            false,
        ),
        // Stride 1 with dilation, a rectangular kernel and uneven padding.
        case(
            [2, 3, 10, 9],
            [4, 3, 3, 2],
            [1, 1],
            [(2, 1), (1, 0)],
            [2, 1],
            true,
        ),
        // A single image, which runs the product on all threads instead.
        case(
            [1, 8, 6, 6],
            [8, 8, 3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            true,
        ),
        // More than 128 output channels: the weight gradient is summed in the weight's own
        // layout instead of transposed.
        case(
            [2, 3, 5, 5],
            [130, 3, 3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            false,
        ),
        // Padding wider than the kernel reach on one side: whole rows read only zeros.
        case(
            [2, 2, 4, 4],
            [3, 2, 3, 3],
            [1, 1],
            [(3, 0), (0, 3)],
            [1, 1],
            false,
        ),
        // 3×3 stride 1 with 16 channels or more, which Winograd's algorithm computes when
        // the batch has an image per thread. The cases have outputs that are not whole 4×4
        // tiles, channels that are not whole vector blocks, uneven padding, padding wider
        // than 2 (only the forward pass takes Winograd there), and a single image.
        case(
            [3, 17, 13, 10],
            [20, 17, 3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            true,
        ),
        case(
            [2, 16, 9, 7],
            [16, 16, 3, 3],
            [1, 1],
            [(2, 0), (0, 1)],
            [1, 1],
            false,
        ),
        case(
            [2, 16, 5, 6],
            [18, 16, 3, 3],
            [1, 1],
            [(3, 0), (1, 1)],
            [1, 1],
            false,
        ),
        case(
            [1, 32, 8, 8],
            [16, 32, 3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            false,
        ),
    ]
}

fn device() -> Device {
    Device::flex().autodiff()
}

fn options(case: &Case) -> ConvOptions<2> {
    ConvOptions::new_with_padding(case.stride, case.padding, case.dilation, 1)
}

fn max_relative_error(actual: Tensor<4>, expected: Tensor<4>) -> f32 {
    let scale = expected.clone().abs().max().into_scalar::<f32>().max(1e-6);
    let diff = (actual - expected).abs().max().into_scalar::<f32>();
    diff / scale
}

/// Runs `convolve` on fresh leaves and returns the output and the gradients of x, weight and
/// bias for the loss `sum(output * probe)`.
fn run(
    convolve: fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>) -> Tensor<4>,
    case: &Case,
    values: &(Tensor<4>, Tensor<4>, Tensor<1>),
    probe: Tensor<4>,
) -> (Tensor<4>, Tensor<4>, Tensor<4>, Option<Tensor<1>>) {
    let x = values.0.clone().detach().require_grad();
    let weight = values.1.clone().detach().require_grad();
    let bias = case.bias.then(|| values.2.clone().detach().require_grad());
    let output = convolve(x.clone(), weight.clone(), bias.clone(), options(case));
    let grads = (output.clone() * probe).sum().backward();
    let grad_x = x.grad(&grads).expect("x has a gradient");
    let grad_weight = weight.grad(&grads).expect("weight has a gradient");
    let grad_bias = bias.map(|bias| bias.grad(&grads).expect("bias has a gradient"));
    (
        output.detach(),
        Tensor::from_inner(grad_x),
        Tensor::from_inner(grad_weight),
        grad_bias.map(Tensor::from_inner),
    )
}

#[test]
fn matches_burn_forward_and_backward() {
    let device = device();
    for (index, case) in cases().iter().enumerate() {
        let normal = Distribution::Normal(0.0, 1.0);
        let values = (
            Tensor::<4>::random(case.input, normal, &device),
            Tensor::<4>::random(case.weight, normal, &device),
            Tensor::<1>::random([case.weight[0]], normal, &device),
        );
        let shape = burn_conv2d(values.0.clone(), values.1.clone(), None, options(case)).dims();
        let probe = Tensor::<4>::random(shape, normal, &device);
        let (expected, expected_x, expected_weight, expected_bias) =
            run(burn_conv2d, case, &values, probe.clone());
        let (output, grad_x, grad_weight, grad_bias) = run(conv2d, case, &values, probe);

        assert_eq!(output.dims(), expected.dims(), "case {index}: output shape");
        let error = max_relative_error(output, expected);
        assert!(
            error < 1e-5,
            "case {index}: output differs by {error} relative"
        );
        let error = max_relative_error(grad_x, expected_x);
        assert!(
            error < 1e-5,
            "case {index}: input gradient differs by {error} relative"
        );
        let error = max_relative_error(grad_weight, expected_weight);
        assert!(
            error < 1e-5,
            "case {index}: weight gradient differs by {error} relative"
        );
        if let (Some(actual), Some(expected)) = (grad_bias, expected_bias) {
            let diff = (actual - expected.clone()).abs().max().into_scalar::<f32>();
            let scale = expected.abs().max().into_scalar::<f32>().max(1e-6);
            assert!(
                diff / scale < 1e-5,
                "case {index}: bias gradient differs by {} relative",
                diff / scale
            );
        }
    }
}

#[test]
fn frozen_weight_gets_no_gradient() {
    let device = device();
    let case = &cases()[0];
    let x = Tensor::<4>::random(case.input, Distribution::Normal(0.0, 1.0), &device).require_grad();
    let weight = Tensor::<4>::random(case.weight, Distribution::Normal(0.0, 1.0), &device);
    let grads = conv2d(x.clone(), weight.clone(), None, options(case))
        .sum()
        .backward();
    assert!(x.grad(&grads).is_some(), "the input needs its gradient");
    assert!(
        weight.grad(&grads).is_none(),
        "a weight without require_grad gets no gradient"
    );
}

#[test]
fn runs_without_autodiff() {
    let device = Device::flex();
    let case = &cases()[1];
    let x = Tensor::<4>::random(case.input, Distribution::Normal(0.0, 1.0), &device);
    let weight = Tensor::<4>::random(case.weight, Distribution::Normal(0.0, 1.0), &device);
    let expected = burn_conv2d(x.clone(), weight.clone(), None, options(case));
    let output = conv2d(x, weight, None, options(case));
    let error = max_relative_error(output, expected);
    assert!(error < 1e-5, "output differs by {error} relative");
}

#[test]
fn strided_view_input_is_read_in_order() {
    let device = Device::flex();
    let case = &cases()[0];
    // A transposed tensor is a strided view of its storage, not a contiguous buffer.
    let [n, c, h, w] = case.input;
    let x =
        Tensor::<4>::random([n, c, w, h], Distribution::Normal(0.0, 1.0), &device).swap_dims(2, 3);
    let weight = Tensor::<4>::random(case.weight, Distribution::Normal(0.0, 1.0), &device);
    let expected = burn_conv2d(x.clone(), weight.clone(), None, options(case));
    let output = conv2d(x, weight, None, options(case));
    let error = max_relative_error(output, expected);
    assert!(error < 1e-5, "output differs by {error} relative");
}

#[test]
fn zero_sized_dims_match_burn() {
    let device = device();
    let normal = Distribution::Normal(0.0, 1.0);
    let cases = [
        ([2, 3, 6, 6], [0, 3, 3, 3]),
        ([2, 0, 6, 6], [4, 0, 3, 3]),
        ([0, 3, 6, 6], [4, 3, 3, 3]),
    ];
    for (input, weight) in cases {
        let x = Tensor::<4>::random(input, normal, &device).require_grad();
        let w = Tensor::<4>::random(weight, normal, &device).require_grad();
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let expected = burn_conv2d(x.clone(), w.clone(), None, options.clone());
        let output = conv2d(x.clone(), w.clone(), None, options);
        assert_eq!(output.dims(), expected.dims(), "{input:?} with {weight:?}");

        let grads = output.sum().backward();
        assert_eq!(
            x.grad(&grads).map(|grad| grad.dims()),
            Some(input),
            "{input:?} with {weight:?}"
        );
    }
}

#[test]
fn grouped_images_match_burn() {
    // Small outputs put several images into one product, as for ResNet34's last stages.
    // A two-thread pool gives groups of 4 here whatever the machine's core count, and 7
    // images leave a shorter last group.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let device = device();
        let normal = Distribution::Normal(0.0, 1.0);
        let strided = Case {
            input: [7, 3, 6, 5],
            weight: [4, 3, 3, 3],
            stride: [2, 1],
            padding: [(1, 1), (0, 1)],
            dilation: [1, 1],
            bias: true,
        };
        let pointwise = Case {
            input: [7, 3, 6, 5],
            weight: [4, 3, 1, 1],
            stride: [1, 1],
            padding: [(0, 0), (0, 0)],
            dilation: [1, 1],
            bias: false,
        };
        for (index, case) in [strided, pointwise].iter().enumerate() {
            let values = (
                Tensor::<4>::random(case.input, normal, &device),
                Tensor::<4>::random(case.weight, normal, &device),
                Tensor::<1>::random([case.weight[0]], normal, &device),
            );
            let shape = burn_conv2d(values.0.clone(), values.1.clone(), None, options(case)).dims();
            let probe = Tensor::<4>::random(shape, normal, &device);
            let expected = run(burn_conv2d, case, &values, probe.clone());
            let actual = run(conv2d, case, &values, probe);

            let error = max_relative_error(actual.0, expected.0);
            assert!(error < 1e-5, "case {index}: output differs by {error}");
            let error = max_relative_error(actual.1, expected.1);
            assert!(
                error < 1e-5,
                "case {index}: input gradient differs by {error}"
            );
            let error = max_relative_error(actual.2, expected.2);
            assert!(
                error < 1e-5,
                "case {index}: weight gradient differs by {error}"
            );
        }
    });
}
