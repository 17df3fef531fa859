//! LibTorch's convolution and training batch norm as a Burn backend extension, with backward
//! passes from LibTorch's autograd under Burn's autodiff.

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::libtorch::TchTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, LibTorch, backend_extension};
use burn::tensor::ops::ConvOptions;

use super::graph::record;
use crate::conv::Activation;

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

    /// Returns `activation(batch_norm(x) + residual)`, normalising with the batch's
    /// statistics. `mean` and `variance` are fresh `[channels]` `f32` tensors that only
    /// this call uses: LibTorch overwrites them with the batch's mean and unbiased variance.
    #[allow(clippy::too_many_arguments)]
    fn native_batch_norm_act_add(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self>;

    /// Returns `activation(batch_norm(x))`, as
    /// [`NativeBackend::native_batch_norm_act_add`] without the residual.
    fn native_batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
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

/// The statistics a batch norm writes, and how it ends.
struct BatchNormArgs<'a> {
    mean: &'a tch::Tensor,
    variance: &'a tch::Tensor,
    epsilon: f64,
    activation: Activation,
}

fn batch_norm_act(
    [x, gamma, beta]: [&tch::Tensor; 3],
    residual: Option<&tch::Tensor>,
    args: &BatchNormArgs,
) -> tch::Tensor {
    // With a momentum of 1 LibTorch's running-statistic update leaves the batch's mean and
    // unbiased variance in the two tensors; fastburn blends Burn's own running statistics.
    let (output, _, _) = x.native_batch_norm(
        Some(gamma),
        Some(beta),
        Some(args.mean),
        Some(args.variance),
        true,
        1.0,
        args.epsilon,
    );
    let output = match residual {
        Some(residual) => output + residual,
        None => output,
    };

    // LibTorch's gradients differ from Burn's only at a NaN, which they stop where Burn's
    // pass it on, and for ReLU6 at exactly 6, which they pass where Burn's stop it.
    match args.activation {
        Activation::Identity => output,
        Activation::Relu => output.relu(),
        Activation::Relu6 => output.relu().clamp_max(6.0),
    }
}

impl NativeBackend for LibTorch {
    fn native_conv2d(x: TchTensor, weight: TchTensor, options: ConvOptions<2>) -> TchTensor {
        TchTensor::new(conv2d(&x.tensor, &weight.tensor, &options))
    }

    fn native_batch_norm_act_add(
        x: TchTensor,
        gamma: TchTensor,
        beta: TchTensor,
        residual: TchTensor,
        mean: TchTensor,
        variance: TchTensor,
        epsilon: f64,
        activation: Activation,
    ) -> TchTensor {
        let args = BatchNormArgs {
            mean: &mean.tensor,
            variance: &variance.tensor,
            epsilon,
            activation,
        };
        let inputs = [&x.tensor, &gamma.tensor, &beta.tensor];
        TchTensor::new(batch_norm_act(inputs, Some(&residual.tensor), &args))
    }

    fn native_batch_norm_act(
        x: TchTensor,
        gamma: TchTensor,
        beta: TchTensor,
        mean: TchTensor,
        variance: TchTensor,
        epsilon: f64,
        activation: Activation,
    ) -> TchTensor {
        let args = BatchNormArgs {
            mean: &mean.tensor,
            variance: &variance.tensor,
            epsilon,
            activation,
        };
        let inputs = [&x.tensor, &gamma.tensor, &beta.tensor];
        TchTensor::new(batch_norm_act(inputs, None, &args))
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

    fn native_batch_norm_act_add(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let [mean, variance] = [mean, variance].map(|tensor| tensor.into_primitive().tensor);
        let args = BatchNormArgs {
            mean: &mean,
            variance: &variance,
            epsilon,
            activation,
        };
        record::<4, C>([x, gamma, beta, residual], |[x, gamma, beta, residual]| {
            batch_norm_act([x, gamma, beta], Some(residual), &args)
        })
    }

    fn native_batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let [mean, variance] = [mean, variance].map(|tensor| tensor.into_primitive().tensor);
        let args = BatchNormArgs {
            mean: &mean,
            variance: &variance,
            epsilon,
            activation,
        };
        record::<3, C>([x, gamma, beta], |inputs| {
            batch_norm_act(inputs, None, &args)
        })
    }
}
