//! 2-D convolution for the backbones: fastburn's im2col + gemm kernels on the Flex backend,
//! LibTorch's autograd for the gradients on LibTorch, Burn's `conv2d` everywhere else.
//!
//! On Flex, an ungrouped `f32` convolution becomes one matrix product per image, and its two
//! gradients under autodiff become two more. Under a bfloat16 [`autocast`] on a processor
//! with AMX, those products take bfloat16 operands on the AMX tiles (see `conv/amx/`). Depthwise and other grouped convolutions, other
//! dtypes and the other backends use Burn's `conv2d` unchanged, so results agree with Burn's
//! to float rounding. On LibTorch under autodiff every convolution, grouped ones included,
//! goes through `crate::libtorch`.

#[cfg(feature = "flex")]
mod amx;
mod autocast;
#[cfg(feature = "flex")]
mod columns;
#[cfg(feature = "flex")]
mod extension;
mod fused;
#[cfg(feature = "flex")]
mod geometry;
#[cfg(feature = "flex")]
mod group;
#[cfg(feature = "flex")]
mod inference;
#[cfg(feature = "flex")]
mod kernel;
#[cfg(feature = "flex")]
mod matrix;
#[cfg(feature = "flex")]
mod winograd;

pub use autocast::{autocast, autocast_dtype};
#[cfg(feature = "flex")]
use extension::GemmConvBackend;
#[cfg(feature = "flex")]
pub(crate) use extension::with_values;
pub use fused::{Activation, conv_bn};
#[cfg(feature = "flex")]
use geometry::Products;
#[cfg(feature = "flex")]
pub use winograd::WINOGRAD_ENV;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};

/// Applies `conv` to `input` as [`Conv2d::forward`] does, through [`conv2d`].
pub fn forward(conv: &Conv2d, input: Tensor<4>) -> Tensor<4> {
    let options = conv_options(conv, input.dims());
    conv2d(
        input,
        conv.weight.val(),
        conv.bias.as_ref().map(|bias| bias.val()),
        options,
    )
}

/// Returns the options [`Conv2d::forward`] passes to Burn's `conv2d` for input of shape
/// `input`.
fn conv_options(conv: &Conv2d, input: [usize; 4]) -> ConvOptions<2> {
    let [_, _, height, width] = input;
    let padding = padding_pairs(
        &conv.padding,
        [height, width],
        conv.kernel_size,
        conv.stride,
    );
    ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups)
}

/// Computes a 2-D convolution, with fastburn's gemm kernels where they apply (see the module
/// documentation) and Burn's `conv2d` otherwise.
pub fn conv2d(
    input: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    // bfloat16 autocast on an AMX processor: the kernels round the f32 operands themselves.
    #[cfg(feature = "flex")]
    if gemm_products() == Some(Products::Bf16) && gemm_applies(&input, &weight, &options) {
        return with_bias(gemm_conv2d(input, weight, options, Products::Bf16), bias);
    }

    if let Some(dtype) = autocast_dtype()
        && input.dtype() == DType::F32
        && dtype != DType::F32
    {
        let output = convolve(
            input.cast(dtype),
            weight.cast(dtype),
            bias.map(|bias| bias.cast(dtype)),
            options,
        );
        return output.cast(DType::F32);
    }
    convolve(input, weight, bias, options)
}

/// Convolves in the operands' dtype, choosing among LibTorch's autograd, the gemm kernels
/// (`f32` only, so half precision on Flex runs Burn's conv2d) and Burn's `conv2d`.
fn convolve(
    input: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if crate::libtorch::conv_applies(&input, &weight, &options) {
        return with_bias(crate::libtorch::conv2d(input, weight, options), bias);
    }

    #[cfg(feature = "flex")]
    if gemm_applies(&input, &weight, &options) {
        return with_bias(gemm_conv2d(input, weight, options, Products::F32), bias);
    }
    burn::tensor::module::conv2d(input, weight, bias, options)
}

/// Runs the gemm convolution (without bias) with products in `products`.
#[cfg(feature = "flex")]
fn gemm_conv2d(
    input: Tensor<4>,
    weight: Tensor<4>,
    options: ConvOptions<2>,
    products: Products,
) -> Tensor<4> {
    use burn::backend::Dispatch;
    let output = <Dispatch as GemmConvBackend>::gemm_conv2d(
        input.into_dispatch(),
        weight.into_dispatch(),
        options,
        products,
    );
    Tensor::from_dispatch(output)
}

/// The environment variable that keeps bfloat16 autocast on Flex off the AMX tiles when set
/// to `0`: convolutions then cast to bfloat16 and run Burn's `conv2d`, as on processors
/// without AMX.
pub const AMX_ENV: &str = "FASTBURN_AMX";

/// Returns the precision the gemm kernels compute this thread's convolutions in under its
/// [`autocast`] setting. Without one that is `f32`. A bfloat16 autocast gets bfloat16 where
/// the processor has AMX and [`AMX_ENV`] is not `0`. Any other gets `None`: the kernels
/// cannot follow it.
#[cfg(feature = "flex")]
fn gemm_products() -> Option<Products> {
    match autocast_dtype() {
        None | Some(DType::F32) => Some(Products::F32),
        Some(DType::BF16) if bf16_on_amx() => Some(Products::Bf16),
        Some(_) => None,
    }
}

/// Returns whether a bfloat16 [`autocast`] on Flex multiplies on the AMX tiles in this
/// process, with `f32` sums: the processor has AMX and [`AMX_ENV`] is not `0`. Otherwise
/// such convolutions run Burn's bfloat16 `conv2d`, which rounds its outputs to bfloat16.
#[cfg(feature = "flex")]
pub fn bf16_on_amx() -> bool {
    static AMX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AMX.get_or_init(|| {
        std::env::var(AMX_ENV).map_or(true, |value| value.trim() != "0") && amx::available()
    })
}

/// Adds a per-channel bias to a convolution's output.
#[cfg(any(feature = "flex", feature = "tch"))]
fn with_bias(output: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    match bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            output + bias.reshape([1, channels, 1, 1])
        }
        None => output,
    }
}

/// The environment variable that turns fastburn's kernels off when set to `0`: on Flex the
/// gemm convolution, the fused batch norm and the max pooling, on LibTorch the convolution and
/// batch norm differentiated by LibTorch's autograd. Burn's own kernels then run, to compare
/// the two or to rule fastburn's out.
pub const GEMM_CONV_ENV: &str = "FASTBURN_GEMM_CONV";

/// Returns whether the gemm kernels are enabled, which they are unless [`GEMM_CONV_ENV`] is
/// `0`. The variable is read once per process.
pub fn gemm_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var(GEMM_CONV_ENV).map_or(true, |value| value.trim() != "0"))
}

/// Returns whether the gemm kernels handle this convolution: enabled, both operands `f32` on
/// a Flex device (with or without autodiff), no groups, and shapes that Burn's `conv2d`
/// accepts.
#[cfg(feature = "flex")]
fn gemm_applies(input: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> bool {
    use burn::backend::DispatchDevice;
    use burn::tensor::Device;

    let on_flex = |device: Device| matches!(device.inner().as_dispatch(), DispatchDevice::Flex(_));
    let x = input.dims();
    let w = weight.dims();
    gemm_enabled()
        && options.groups == 1
        && input.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && on_flex(input.device())
        && on_flex(weight.device())
        && x[1] == w[1]
        && x.iter().chain(&w).all(|&dim| dim > 0)
        && extension::geometry(&x, &w, options)
            .output()
            .is_some_and(|[h, w]| h > 0 && w > 0)
}

/// Splits `padding` into (begin, end) pairs per axis as Burn 0.22.1's `Conv2d` does; its own
/// function for this is private to burn-nn.
fn padding_pairs(
    padding: &PaddingConfig2d,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [(usize, usize); 2] {
    match padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(*top, *bottom), (*left, *right)],
        PaddingConfig2d::Same => {
            // Like TensorFlow's "SAME": the output has ceil(input / stride) positions and any
            // odd padding goes at the end.
            let same = |axis: usize| {
                let outputs = input[axis].div_ceil(stride[axis]);
                let total = match outputs {
                    0 => 0,
                    _ => ((outputs - 1) * stride[axis] + kernel[axis]).saturating_sub(input[axis]),
                };
                (total / 2, total - total / 2)
            };
            [same(0), same(1)]
        }
    }
}
