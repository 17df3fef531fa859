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
