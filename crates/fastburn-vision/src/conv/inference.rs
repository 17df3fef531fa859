//! The inference path of [`conv_bn`](super::conv_bn) on Flex: the batch norm folded into the
//! convolution's weight and bias, and the bias, residual and activation applied by the gemm
//! kernel's epilogue.
//!
//! Folding uses the running statistics, which is what Burn 0.22.1's `BatchNorm` uses on a
//! device without autodiff, so the path is taken only there.

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};

use super::extension::{flex_geometry, geometry, with_values};
use super::fused::Activation;
use super::geometry::Products;
use super::kernel::{self, Epilogue};

/// Backends that run a convolution with a fused bias, residual and activation. Flex only, and
/// crate-private for the same reason as [`super::extension::GemmConvBackend`]: [`applies`]
/// checks every shape the kernel relies on first.
#[backend_extension(Flex)]
pub(crate) trait FusedConvBackend: Backend {
    /// Returns `activation(conv(x, weight) + bias)`, `bias` having one value per output
    /// channel.
    fn fused_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        activation: Activation,
        products: Products,
    ) -> FloatTensor<Self>;

    /// Returns `activation(conv(x, weight) + bias + residual)`, `residual` having the
    /// output's shape.
    fn fused_conv2d_add(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        options: ConvOptions<2>,
        activation: Activation,
        products: Products,
    ) -> FloatTensor<Self>;
}

impl FusedConvBackend for Flex {
    fn fused_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
        activation: Activation,
        products: Products,
    ) -> FlexTensor {
        run(&x, &weight, &bias, None, &options, (activation, products))
    }

    fn fused_conv2d_add(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        residual: FlexTensor,
        options: ConvOptions<2>,
        activation: Activation,
        products: Products,
    ) -> FlexTensor {
        run(
            &x,
            &weight,
            &bias,
            Some(&residual),
            &options,
            (activation, products),
        )
    }
}

fn run(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    residual: Option<&FlexTensor>,
    options: &ConvOptions<2>,
    (activation, products): (Activation, Products),
) -> FlexTensor {
    let geometry = flex_geometry(x, weight, options, products);
    let [out_h, out_w] = geometry
        .output()
        .expect("`folded` checks that the convolution has an output");
    let shape = [geometry.batch, geometry.channels_out, out_h, out_w];
    let mut output = vec![0.0f32; shape.iter().product()];

    with_values(x, |input| {
        with_values(weight, |weight| {
            with_values(bias, |bias| {
                let mut apply = |residual: Option<&[f32]>| {
                    let epilogue = Epilogue {
                        bias,
                        residual,
                        activation,
                    };
                    kernel::forward_with(&geometry, input, weight, Some(&epilogue), &mut output);
                };
                match residual {
                    Some(residual) => with_values(residual, |residual| apply(Some(residual))),
                    None => apply(None),
                }
            })
        })
    });
    FlexTensor::from_data(TensorData::new(output, shape))
}

/// Runs `activation(bn(conv(input)) + residual)` with the batch norm folded into the
/// convolution. Call it only where [`applies`] returns true.
pub(super) fn folded(
    conv: &Conv2d,
    bn: &BatchNorm,
    input: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
) -> Tensor<4> {
    let options = super::conv_options(conv, input.dims());
    let products = super::gemm_products().expect("`applies` checks the products");
    let (weight, bias) = super::fused::fold_batch_norm(conv, bn);

    let output = match residual {
        Some(residual) => <Dispatch as FusedConvBackend>::fused_conv2d_add(
            input.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            residual.into_dispatch(),
            options,
            activation,
            products,
        ),
        None => <Dispatch as FusedConvBackend>::fused_conv2d(
            input.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            options,
            activation,
            products,
        ),
    };
    Tensor::<4>::from_dispatch(output)
}

/// Returns whether the fused kernel computes this layer. The gemm convolution must apply and
/// the device must have no autodiff, so that the batch norm uses its running statistics. An
/// autocast may request only what the kernel's products compute in (bfloat16 where
/// [`super::amx::available`]), and the batch norm, the convolution's bias and the residual
/// must match the convolution's output and device.
pub(super) fn applies(
    conv: &Conv2d,
    bn: &BatchNorm,
    input: &Tensor<4>,
    residual: Option<&Tensor<4>>,
) -> bool {
    let weight = conv.weight.val();
    let options = super::conv_options(conv, input.dims());
    let on_flex = |device: Device| matches!(device.inner().as_dispatch(), DispatchDevice::Flex(_));
    let channels = weight.dims()[0];
    let mut per_channel = vec![
        bn.gamma.val(),
        bn.beta.val(),
        bn.running_mean.value(),
        bn.running_var.value(),
    ];
    per_channel.extend(conv.bias.as_ref().map(|bias| bias.val()));

    let Some([out_h, out_w]) = geometry(&input.dims(), &weight.dims(), &options).output() else {
        return false;
    };
    let output = [input.dims()[0], channels, out_h, out_w];

    !input.device().is_autodiff()
        && super::gemm_products().is_some()
        && super::gemm_applies(input, &weight, &options)
        && per_channel.iter().all(|tensor| {
            tensor.dims() == [channels] && tensor.dtype() == DType::F32 && on_flex(tensor.device())
        })
        && residual.is_none_or(|residual| {
            residual.dims() == output
                && residual.dtype() == DType::F32
                && on_flex(residual.device())
        })
}
