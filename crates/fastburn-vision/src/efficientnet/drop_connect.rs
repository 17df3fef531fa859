//! Drop connect (stochastic depth) on the residual branch of a block.

use burn::config::Config;
use burn::module::{Flag, Module, Param};
use burn::tensor::{Distribution, Tensor};

use super::error::{EfficientNetError, check_probability};

/// Configuration of a [`DropConnect`] layer.
#[derive(Config, Debug)]
pub struct DropConnectConfig {
    /// Probability of zeroing a sample's branch, in `[0, 1)`.
    pub rate: f64,
}

/// Zeroes a whole sample of a residual branch with probability `rate` in training and scales
/// the kept samples by `1 / (1 - rate)`; the identity otherwise.
///
/// Training means what it means for Burn's `Dropout`: the input is on an autodiff device and
/// the `training` flag is set (`Module::freeze` clears it).
#[derive(Module, Debug)]
pub struct DropConnect {
    /// Probability of dropping a sample's branch.
    pub rate: f64,
    /// Whether to behave as in training.
    pub training: Param<Flag>,
}

impl DropConnectConfig {
    /// Builds the layer, or fails when `rate` is not in `[0, 1)`.
    pub fn init(&self) -> Result<DropConnect, EfficientNetError> {
        Ok(DropConnect {
            rate: check_probability("drop connect rate", self.rate)?,
            training: Param::from_bool(true),
        })
    }
}

impl DropConnect {
    /// Applies drop connect to `[batch, ...]`, with one random draw per sample.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if self.rate == 0.0 || !self.training.is_enabled() || !input.device().is_autodiff() {
            return input;
        }

        let keep = 1.0 - self.rate;
        let mut mask_shape = [1; D];
        mask_shape[0] = input.dims()[0];
        // In the input's dtype, so that half-precision activations stay half precision.
        let mask = Tensor::<D>::random(mask_shape, Distribution::Bernoulli(keep), &input.device())
            .cast(input.dtype());

        input * mask / keep
    }
}
