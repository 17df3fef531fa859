//! LibTorch's convolution and training batch norm as a Burn backend extension, with backward
//! passes from LibTorch's autograd under Burn's autodiff.

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::libtorch::TchTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, LibTorch, backend_extension};
use burn::tensor::ops::ConvOptions;

use super::graph::record;

/// Backends that run these LibTorch operations. Crate-private: [`super`]'s checks pick the
/// inputs they accept.
#[backend_extension(LibTorch, Autodiff)]
pub(crate) trait NativeBackend: Backend {
    /// Convolves `x` (`[batch, channels_in, H, W]`) with `weight`, without bias.
    fn native_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Returns each channel's mean and biased variance of `x` as a `[2, channels]` tensor.
    /// It has no gradient.
    fn native_channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Normalises `x` with its batch statistics, then scales by `gamma` and shifts by `beta`.
    fn native_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

fn conv2d(x: &tch::Tensor, weight: &tch::Tensor, options: &ConvOptions<2>) -> tch::Tensor {
    let [(top, bottom), (left, right)] = options.padding;
    let as_i64 = |values: [usize; 2]| values.map(|value| value as i64);

    // LibTorch pads both sides of an axis alike. TensorFlow's "SAME" padding puts the odd
    // pixel at the end, so such an input is padded first.
    let (padded, padding) = match top == bottom && left == right {
        true => (None, [top, left]),
        false => {
            let pad = [left, right, top, bottom].map(|value| value as i64);
            (Some(x.constant_pad_nd(pad)), [0, 0])
        }
    };
    tch::Tensor::conv2d(
        padded.as_ref().unwrap_or(x),
        weight,
        None::<tch::Tensor>,
        as_i64(options.stride),
        as_i64(padding),
        as_i64(options.dilation),
        options.groups as i64,
    )
}

fn channel_moments(x: &tch::Tensor) -> tch::Tensor {
    let (variance, mean) = x.var_mean_correction([0i64, 2, 3].as_slice(), 0, false);
    tch::Tensor::stack(&[mean, variance], 0)
}

fn batch_norm(
    x: &tch::Tensor,
    gamma: &tch::Tensor,
    beta: &tch::Tensor,
    epsilon: f64,
) -> tch::Tensor {
    // No running statistics: fastburn updates Burn's own (see `crate::norm`).
    let (output, _, _) =
        x.native_batch_norm(Some(gamma), Some(beta), None, None, true, 0.0, epsilon);
    output
}

impl NativeBackend for LibTorch {
    fn native_conv2d(x: TchTensor, weight: TchTensor, options: ConvOptions<2>) -> TchTensor {
        TchTensor::new(conv2d(&x.tensor, &weight.tensor, &options))
    }

    fn native_channel_moments(x: TchTensor) -> TchTensor {
        TchTensor::new(channel_moments(&x.tensor))
    }

    fn native_batch_norm(
        x: TchTensor,
        gamma: TchTensor,
        beta: TchTensor,
        epsilon: f64,
    ) -> TchTensor {
        TchTensor::new(batch_norm(&x.tensor, &gamma.tensor, &beta.tensor, epsilon))
    }
}

impl<C: CheckpointStrategy> NativeBackend for Autodiff<LibTorch, C> {
    fn native_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        record::<2, C>([x, weight], |[x, weight]| conv2d(x, weight, &options))
    }

    fn native_channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let moments = LibTorch::native_channel_moments(x.into_primitive());
        <Self as AutodiffBackend>::from_inner(moments)
    }

    fn native_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        record::<3, C>([x, gamma, beta], |[x, gamma, beta]| {
            batch_norm(x, gamma, beta, epsilon)
        })
    }
}
