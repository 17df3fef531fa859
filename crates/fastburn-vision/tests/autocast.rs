//! `conv::autocast`: convolutions compute in half precision inside the scope and return
//! `f32`, with `f32` gradients for `f32` weights.

use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Distribution, Tensor};
use fastburn_vision::conv::{autocast, autocast_dtype, conv2d};

fn operands(device: &Device) -> (Tensor<4>, Tensor<4>) {
    let normal = Distribution::Normal(0.0, 1.0);
    (
        Tensor::random([2, 8, 6, 6], normal, device),
        Tensor::random([4, 8, 3, 3], normal, device),
    )
}

fn options() -> ConvOptions<2> {
    ConvOptions::new([1, 1], [1, 1], [1, 1], 1)
}

#[test]
fn half_precision_output_is_f32_and_close() {
    let device = Device::default();
    let (x, weight) = operands(&device);
    let exact = conv2d(x.clone(), weight.clone(), None, options());

    for dtype in [DType::BF16, DType::F16] {
        let output = autocast(Some(dtype), || {
            conv2d(x.clone(), weight.clone(), None, options())
        });
        assert_eq!(output.dtype(), DType::F32, "{dtype:?}: output cast back");

        let scale = exact.clone().abs().max().into_scalar::<f32>();
        let error = (output - exact.clone()).abs().max().into_scalar::<f32>() / scale;
        assert!(
            error > 0.0,
            "{dtype:?}: the result should carry half-precision rounding"
        );
        assert!(error < 2e-2, "{dtype:?}: differs by {error} relative");
    }
}

#[test]
fn weight_gradient_stays_f32() {
    let device = Device::default().autodiff();
    let (x, weight) = operands(&device);
    let weight = weight.require_grad();
    let output = autocast(Some(DType::BF16), || {
        conv2d(x, weight.clone(), None, options())
    });
    let grads = output.sum().backward();
    let grad = weight.grad(&grads).expect("weight has a gradient");
    assert_eq!(grad.dtype(), DType::F32);
}

#[test]
fn scope_restores_previous_dtype() {
    assert_eq!(autocast_dtype(), None);
    autocast(Some(DType::BF16), || {
        assert_eq!(autocast_dtype(), Some(DType::BF16));
        autocast(None, || assert_eq!(autocast_dtype(), None));
        assert_eq!(autocast_dtype(), Some(DType::BF16));
    });
    assert_eq!(autocast_dtype(), None);

    let result =
        std::panic::catch_unwind(|| autocast(Some(DType::F16), || panic!("inside the scope")));
    assert!(result.is_err());
    assert_eq!(autocast_dtype(), None, "restored after a panic");
}

/// Largest difference between `a` and `b`, relative to the largest magnitude in `b`.
fn relative_error<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let scale = b.clone().abs().max().into_scalar::<f32>();
    (a - b).abs().max().into_scalar::<f32>() / scale
}

#[test]
fn bfloat16_gradients_are_close_to_f32() {
    // Input, weight, stride and padding of each case, all with enough channels for several
    // tile steps. On Flex the first case's outputs are small, so the kernels put several
    // images in one product. The second has one product per image. The third is pointwise,
    // so the image is its own column matrix.
    let cases = [
        ([5, 40, 11, 11], [36, 40, 3, 3], 2, 1),
        ([2, 24, 24, 24], [20, 24, 3, 3], 1, 1),
        ([3, 33, 23, 23], [17, 33, 1, 1], 1, 0),
    ];
    for (input, weight, stride, padding) in cases {
        let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1);
        for (name, error) in bfloat16_errors(input, weight, options) {
            assert!(
                error > 0.0,
                "{input:?}, {name}: should carry bfloat16 rounding"
            );
            assert!(
                error < 2e-2,
                "{input:?}, {name}: differs by {error} relative"
            );
        }
    }
}

/// Runs a convolution and its gradients in `f32` and under a bfloat16 autocast, and returns
/// the relative error of the output and of both gradients.
fn bfloat16_errors(
    input: [usize; 4],
    weight: [usize; 4],
    options: ConvOptions<2>,
) -> [(&'static str, f32); 3] {
    let device = Device::default().autodiff();
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random(input, normal, &device);
    let weight = Tensor::<4>::random(weight, normal, &device);
    let output_shape = conv2d(x.clone(), weight.clone(), None, options.clone()).dims();
    let grad_seed = Tensor::<4>::random(output_shape, normal, &device);

    let run = |dtype: Option<DType>| {
        let x = x.clone().detach().require_grad();
        let weight = weight.clone().detach().require_grad();
        let output = autocast(dtype, || {
            conv2d(x.clone(), weight.clone(), None, options.clone())
        });
        let grads = (output.clone() * grad_seed.clone()).sum().backward();
        let grad_x = x.grad(&grads).expect("input gradient");
        let grad_weight = weight.grad(&grads).expect("weight gradient");
        assert_eq!(grad_x.dtype(), DType::F32);
        assert_eq!(grad_weight.dtype(), DType::F32);
        (output.inner(), grad_x, grad_weight)
    };
    let (output, grad_x, grad_weight) = run(None);
    let (half_output, half_x, half_weight) = run(Some(DType::BF16));
    [
        ("output", relative_error(half_output, output)),
        ("input gradient", relative_error(half_x, grad_x)),
        ("weight gradient", relative_error(half_weight, grad_weight)),
    ]
}
