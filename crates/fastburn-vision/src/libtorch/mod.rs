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

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::BatchNorm;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor};

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

/// Returns whether [`batch_norm`] takes `bn` on `x`: `bn` trains in `f32` on LibTorch (see
/// `crate::norm::trains_in_f32`), and each channel has more than one value, which LibTorch
/// requires in training.
pub(crate) fn batch_norm_applies(bn: &BatchNorm, x: &Tensor<4>) -> bool {
    let [batch, channels, height, width] = x.dims();
    crate::norm::trains_in_f32(bn, x, on_libtorch) && channels > 0 && batch * height * width > 1
}

/// Normalises `x` with its batch statistics and updates `bn`'s running statistics as
/// [`BatchNorm::forward`] does. Call it only where [`batch_norm_applies`] holds.
pub(crate) fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let channels = x.dims()[1];
    let moments = <Dispatch as NativeBackend>::native_channel_moments(x.clone().into_dispatch());
    crate::norm::update_running_statistics(bn, &Tensor::from_dispatch(moments), channels);

    let output = <Dispatch as NativeBackend>::native_batch_norm(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    Tensor::from_dispatch(output)
}
