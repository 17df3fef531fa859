//! Convolution → batch norm → optional residual addition → activation: the unit every block
//! of the backbones is made of, as one call.
//!
//! At inference (no autodiff), the batch norm folds into the convolution: its weight is scaled
//! per output channel and its shift becomes a bias, which saves the batch norm's passes over
//! the activation. On Flex (`f32`) the bias, the residual and the activation are then applied
//! to each image's output right after its matrix product, while it is still in cache, instead
//! of in three more passes over the whole activation. In training the layers run one after
//! the other, as Burn's modules do.

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, relu6};

use super::conv_options;

/// The activation at the end of [`conv_bn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// No activation.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`, EfficientNet's activation.
    Relu6,
}

impl Activation {
    /// Applies the activation to a tensor.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::Relu6 => relu6(x),
        }
    }

    /// Applies the activation to one value. NaN stays NaN, as in Burn 0.22.1's Flex `relu`.
    #[cfg(feature = "flex")]
    pub(crate) fn apply_value(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Relu6 => x.clamp(0.0, 6.0),
        }
    }

    /// Writes the gradient before the activation into `into`, from its `output` and the
    /// gradient after it, value by value. As in PyTorch, the gradient passes where the output
    /// is strictly inside the activation's linear range or NaN. Burn 0.22.1 also passes it
    /// for NaN, and its `relu6` (a clamp) passes it at exactly 0 and 6 too.
    #[cfg(feature = "flex")]
    pub(crate) fn gradient_into(self, output: &[f32], grad: &[f32], into: &mut [f32]) {
        // One loop per activation, so that each compiles to vector selects.
        match self {
            Activation::Identity => into.copy_from_slice(grad),
            Activation::Relu => {
                for ((into, &output), &grad) in into.iter_mut().zip(output).zip(grad) {
                    let passes = output > 0.0 || output.is_nan();
                    *into = if passes { grad } else { 0.0 };
                }
            }
            Activation::Relu6 => {
                for ((into, &output), &grad) in into.iter_mut().zip(output).zip(grad) {
                    let passes = (output > 0.0 && output < 6.0) || output.is_nan();
                    *into = if passes { grad } else { 0.0 };
                }
            }
        }
    }
}

/// Computes `activation(bn(conv(input)) + residual)`, with `residual` left out when `None`.
///
/// `residual` must have the shape of the convolution's output. The result equals running
/// [`super::forward`], [`BatchNorm::forward`], the addition and the activation in turn, to
/// float rounding: at inference the batch norm is folded into the convolution (see the
/// module documentation).
pub fn conv_bn(
    conv: &Conv2d,
    bn: &BatchNorm,
    input: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if let Some(dtype) = crate::libtorch::half_activations(&input) {
        return conv_bn_half(conv, bn, input, residual, activation, dtype);
    }

    #[cfg(feature = "flex")]
    if super::inference::applies(conv, bn, &input, residual.as_ref()) {
        return super::inference::folded(conv, bn, input, residual, activation);
    }

    if folds(conv, &input) {
        let (weight, bias) = fold_batch_norm(conv, bn);
        let options = conv_options(conv, input.dims());
        let output = super::conv2d(input, weight, Some(bias), options);
        return add_activate(output, residual, activation);
    }

    let output = super::forward(conv, input);

    #[cfg(feature = "flex")]
    if crate::norm::applies(bn, &output, residual.as_ref()) {
        return crate::norm::batch_norm_act(bn, output, residual, activation);
    }

    #[cfg(feature = "tch")]
    if crate::libtorch::batch_norm_applies(bn, &output, residual.as_ref()) {
        return crate::libtorch::batch_norm_act(bn, output, residual, activation);
    }

    add_activate(bn.forward(output), residual, activation)
}

/// Returns whether [`conv_bn`] folds the batch norm into the convolution. fastburn's kernels
/// must be enabled (see [`super::GEMM_CONV_ENV`]) and the device must have no autodiff: there
/// Burn 0.22.1's `BatchNorm` normalises with its running statistics, the ones folded in. The
/// layer must also have at least as many output values as weights, its output size estimated
/// as "same" padding gives it, which is exact for ResNet and EfficientNet.
///
/// Folding passes over every weight on each call, while the batch norm it replaces passes
/// over every output value. With one image, ResNet34's last layers have 100 times more
/// weights than outputs, and folding them made LibTorch inference 28% slower.
fn folds(conv: &Conv2d, input: &Tensor<4>) -> bool {
    let [batch, _, height, width] = input.dims();
    let [out_channels, ..] = conv.weight.dims();
    let [stride_y, stride_x] = conv.stride;
    let outputs = batch * out_channels * height.div_ceil(stride_y) * width.div_ceil(stride_x);
    let weights = conv.weight.shape().num_elements();

    super::gemm_enabled() && !input.device().is_autodiff() && outputs >= weights
}

/// Returns `conv`'s weight and bias with `bn` folded in, using its running statistics:
/// bn(y) = gamma · (y − mean) / sqrt(var + eps) + beta = scale · y + shift.
pub(crate) fn fold_batch_norm(conv: &Conv2d, bn: &BatchNorm) -> (Tensor<4>, Tensor<1>) {
    let weight = conv.weight.val();
    let channels = weight.dims()[0];
    let scale = bn.gamma.val() / (bn.running_var.value() + bn.epsilon).sqrt();
    let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
    let bias = match &conv.bias {
        Some(bias) => shift + bias.val() * scale.clone(),
        None => shift,
    };
    (weight * scale.reshape([channels, 1, 1, 1]), bias)
}

/// Returns `activation(output + residual)`, with `residual` left out when `None`.
fn add_activate(
    output: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
) -> Tensor<4> {
    let output = match residual {
        Some(residual) => output + residual,
        None => output,
    };
    activation.apply(output)
}

/// Computes [`conv_bn`] with the activations in `dtype`, as PyTorch's autocast does: the
/// convolution, the residual addition and the activation in `dtype`, the batch norm with `f32`
/// statistics and parameters. The result stays in `dtype` for the next layer.
#[cfg(feature = "tch")]
fn conv_bn_half(
    conv: &Conv2d,
    bn: &BatchNorm,
    input: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
    dtype: burn::tensor::DType,
) -> Tensor<4> {
    let options = conv_options(conv, input.dims());
    let residual = residual.map(|residual| residual.cast(dtype));
    if folds(conv, &input) {
        let (weight, bias) = fold_batch_norm(conv, bn);
        let input = input.cast(dtype);
        let output = super::convolve(input, weight.cast(dtype), Some(bias.cast(dtype)), options);
        return add_activate(output, residual, activation);
    }

    let output = super::convolve(
        input.cast(dtype),
        conv.weight.val().cast(dtype),
        conv.bias.as_ref().map(|bias| bias.val().cast(dtype)),
        options,
    );
    if crate::libtorch::batch_norm_applies(bn, &output, residual.as_ref()) {
        return crate::libtorch::batch_norm_act(bn, output, residual, activation);
    }

    // Burn's batch norm (a shape LibTorch rejects in training) computes in `f32`, so its
    // result is cast back.
    let output = bn
        .forward(output.cast(burn::tensor::DType::F32))
        .cast(dtype);
    add_activate(output, residual, activation)
}
