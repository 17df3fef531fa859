//! Convolution and training batch norm on Burn's LibTorch backend, differentiated by
//! LibTorch's own autograd.
//!
//! Under autodiff, Burn 0.22.1 differentiates a LibTorch convolution with its generic
//! backward: a transposed convolution for the input gradient and a convolution with the batch
//! and channel axes swapped for the weight gradient. It differentiates a training batch norm
//! through the dozen element-wise operations it is composed of. PyTorch runs each as one
//! oneDNN or native kernel. Here the forward pass runs in LibTorch with its autograd
//! recording, and the backward pass requests the gradients from LibTorch, so training reaches the
//! kernels PyTorch's own training uses, in `f32` and under `to_bf16()` alike.

// Burn 0.22.1 marks burn-tch deprecated in favour of CubeCL, but LibTorch is still the way
// to PyTorch's own kernels, so fastburn keeps supporting it.
#![allow(deprecated)]

mod extension;
mod graph;
mod vjp;

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::BatchNorm;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor};

use crate::conv::Activation;
use extension::NativeBackend;

fn on_libtorch(device: Device) -> bool {
    matches!(device.inner().as_dispatch(), DispatchDevice::LibTorch(_))
}

/// Returns whether [`conv2d`] takes this convolution: fastburn's kernels enabled (see
/// [`crate::conv::GEMM_CONV_ENV`]), both operands on one LibTorch autodiff device with the
/// same float dtype, and shapes that Burn's `conv2d` accepts. Groups are fine.
pub(crate) fn conv_applies(
    input: &Tensor<4>,
    weight: &Tensor<4>,
    options: &ConvOptions<2>,
) -> bool {
    let x = input.dims();
    let w = weight.dims();
    let groups = options.groups;
    let has_output = (0..2).all(|axis| {
        let (begin, end) = options.padding[axis];
        let extent = options.dilation[axis] * (w[2 + axis] - 1) + 1;
        x[2 + axis] + begin + end >= extent
    });

    crate::conv::gemm_enabled()
        && input.device().is_autodiff()
        && on_libtorch(input.device())
        && input.device() == weight.device()
        && input.dtype() == weight.dtype()
        && matches!(
            input.dtype(),
            DType::F64 | DType::F32 | DType::F16 | DType::BF16
        )
        && x.iter().chain(&w).all(|&dim| dim > 0)
        && groups > 0
        && x[1] == w[1] * groups
        && w[0] % groups == 0
        && options
            .stride
            .iter()
            .chain(&options.dilation)
            .all(|&step| step > 0)
        && has_output
}

/// Convolves `input` with `weight`, without bias. Call it only where [`conv_applies`] holds.
pub(crate) fn conv2d(input: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    let output = <Dispatch as NativeBackend>::native_conv2d(
        input.into_dispatch(),
        weight.into_dispatch(),
        options,
    );
    Tensor::from_dispatch(output)
}

/// Returns whether [`batch_norm_act`] takes `bn` on `x`: `bn` trains with batch statistics on
/// LibTorch (see `crate::norm::trains_on`), `x` is `f32` or half precision, and each channel
/// has more than one value, which LibTorch requires in training. A residual must match `x`.
pub(crate) fn batch_norm_applies(
    bn: &BatchNorm,
    x: &Tensor<4>,
    residual: Option<&Tensor<4>>,
) -> bool {
    let [batch, channels, height, width] = x.dims();
    crate::norm::trains_on(bn, x, on_libtorch)
        && matches!(x.dtype(), DType::F32 | DType::F16 | DType::BF16)
        && channels > 0
        && batch * height * width > 1
        && residual.is_none_or(|residual| {
            residual.dims() == x.dims()
                && residual.dtype() == x.dtype()
                && residual.device() == x.device()
        })
}

/// Computes `activation(bn(x) + residual)` with the batch's statistics in one LibTorch call and
/// updates `bn`'s running statistics as [`BatchNorm::forward`] does. The output has `x`'s
/// dtype: a half-precision `x` is normalised with `f32` statistics and parameters, as
/// PyTorch's autocast does. Call it only where [`batch_norm_applies`] holds.
pub(crate) fn batch_norm_act(
    bn: &BatchNorm,
    x: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let device = x.device();
    let statistic = || Tensor::<1>::zeros([channels], (&device, DType::F32));
    let (mean, variance) = (statistic(), statistic());

    let x = x.into_dispatch();
    let [gamma, beta] = [bn.gamma.val(), bn.beta.val()].map(Tensor::into_dispatch);
    let [mean_out, variance_out] = [&mean, &variance].map(|tensor| tensor.clone().into_dispatch());
    let output = match residual {
        Some(residual) => <Dispatch as NativeBackend>::native_batch_norm_act_add(
            x,
            gamma,
            beta,
            residual.into_dispatch(),
            mean_out,
            variance_out,
            bn.epsilon,
            activation,
        ),
        None => <Dispatch as NativeBackend>::native_batch_norm_act(
            x,
            gamma,
            beta,
            mean_out,
            variance_out,
            bn.epsilon,
            activation,
        ),
    };

    // LibTorch wrote the unbiased variance, and Burn blends the biased one. LibTorch's graph
    // saved `variance`, so the product must not overwrite it: the clone keeps Burn from
    // computing it in place.
    let values = (batch * height * width) as f64;
    let biased = variance.clone().mul_scalar((values - 1.0) / values);
    let moments = Tensor::stack::<2>(vec![mean, biased], 0);
    crate::norm::update_running_statistics(bn, &moments, channels);
    Tensor::from_dispatch(output)
}

/// Returns the half-precision dtype in which [`crate::conv::conv_bn`] keeps `input`'s
/// activations: the dtype of an enclosing [`crate::conv::autocast`] when it is `bf16` or
/// `f16`, `input` is on LibTorch, and `input` is `f32` or already in that dtype.
///
/// PyTorch's autocast keeps the activations between layers in half precision, so each
/// layer reads and writes half the bytes. Flex has no half-precision kernels in fastburn, so
/// there the activations stay `f32`.
pub(crate) fn half_activations(input: &Tensor<4>) -> Option<DType> {
    let dtype = crate::conv::autocast_dtype()?;
    let applies = crate::conv::gemm_enabled()
        && matches!(dtype, DType::BF16 | DType::F16)
        && (input.dtype() == DType::F32 || input.dtype() == dtype)
        && on_libtorch(input.device());
    applies.then_some(dtype)
}
