//! Batch norm in training mode fused with the residual addition and the activation, on Flex
//! under autodiff.
//!
//! Burn 0.22.1's Flex backend computes a training batch norm's forward pass from generic
//! tensor operations, each a pass over the activation, and the residual addition and the
//! activation add passes and autodiff nodes of their own. In a perf profile of a ResNet34
//! training step here, these element-wise passes took most of the time outside the
//! convolutions. This kernel computes the statistics in one pass, the output in one, and all
//! gradients in three.
//!
//! The running-statistic update is shared with the LibTorch batch norm of `crate::libtorch`.

#[cfg(feature = "flex")]
mod extension;
#[cfg(feature = "flex")]
mod kernel;

use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::tensor::{DType, Device, Tensor};
#[cfg(feature = "flex")]
use {
    crate::conv::Activation,
    burn::backend::{Dispatch, DispatchDevice},
    extension::BatchNormBackend,
};

/// Returns whether the fused kernel computes `activation(bn(x) + residual)`: `bn` trains with
/// batch statistics on Flex (see [`trains_on`]), and the tensors are `f32` with the shapes the
/// kernel reads.
#[cfg(feature = "flex")]
pub(crate) fn applies(bn: &BatchNorm, x: &Tensor<4>, residual: Option<&Tensor<4>>) -> bool {
    let on_flex = |tensor_device: burn::tensor::Device| {
        matches!(tensor_device.inner().as_dispatch(), DispatchDevice::Flex(_))
    };
    let [batch, channels, height, width] = x.dims();

    trains_on(bn, x, on_flex)
        && x.dtype() == DType::F32
        && batch * channels * height * width > 0
        && residual.is_none_or(|residual| {
            residual.dims() == x.dims()
                && residual.dtype() == DType::F32
                && on_flex(residual.device())
        })
}

/// Returns whether `bn` normalises `x` with batch statistics (fastburn's kernels enabled,
/// an autodiff device and training enabled, as in Burn 0.22.1's `BatchNorm::forward`), with
/// `x` on a device `on_backend` accepts and gamma, beta and the running statistics `f32`
/// there, one value per channel of `x`. `x`'s dtype is left to the caller.
pub(crate) fn trains_on(
    bn: &BatchNorm,
    x: &Tensor<4>,
    on_backend: impl Fn(Device) -> bool,
) -> bool {
    let channels = x.dims()[1];
    let per_channel = [
        bn.gamma.val(),
        bn.beta.val(),
        bn.running_mean.value(),
        bn.running_var.value(),
    ];

    crate::conv::gemm_enabled()
        && x.device().is_autodiff()
        && bn.training.is_enabled()
        && on_backend(x.device())
        && per_channel.iter().all(|tensor| {
            tensor.dims() == [channels]
                && tensor.dtype() == DType::F32
                && on_backend(tensor.device())
        })
}

/// Computes `activation(bn(x) + residual)` with batch statistics and updates `bn`'s running
/// statistics as [`BatchNorm::forward`] does. Call it only where [`applies`] returns true.
#[cfg(feature = "flex")]
pub(crate) fn batch_norm_act(
    bn: &BatchNorm,
    x: Tensor<4>,
    residual: Option<Tensor<4>>,
    activation: Activation,
) -> Tensor<4> {
    let channels = x.dims()[1];
    let moments = Tensor::<2>::from_dispatch(<Dispatch as BatchNormBackend>::channel_moments(
        x.clone().into_dispatch(),
    ));
    update_running_statistics(bn, &moments, channels);

    let [x, gamma, beta, moments] = [
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        moments.into_dispatch(),
    ];
    let output = match residual {
        Some(residual) => <Dispatch as BatchNormBackend>::batch_norm_act_add(
            x,
            gamma,
            beta,
            moments,
            residual.into_dispatch(),
            bn.epsilon,
            activation,
        ),
        None => <Dispatch as BatchNormBackend>::batch_norm_act(
            x, gamma, beta, moments, bn.epsilon, activation,
        ),
    };
    Tensor::from_dispatch(output)
}

/// Moves the running statistics towards the batch's: `(1 − momentum) · running + momentum ·
/// batch`, with the biased batch variance, as Burn 0.22.1's `BatchNorm` does. `moments` contains
/// the batch's means in its first row and variances in its second.
pub(crate) fn update_running_statistics(bn: &BatchNorm, moments: &Tensor<2>, channels: usize) {
    let row = |index: usize| {
        let rows = index..index + 1;
        moments
            .clone()
            .slice([rows, 0..channels])
            .reshape([channels])
    };
    let blend = |running: &RunningState<Tensor<1>>, batch: Tensor<1>| {
        let previous = running.value_sync().to_device(&moments.device());
        let blended = previous.mul_scalar(1.0 - bn.momentum) + batch.mul_scalar(bn.momentum);
        running.update(blended.detach());
    };

    blend(&bn.running_mean, row(0));
    blend(&bn.running_var, row(1));
}
