//! Mixed-precision training, fastai's `to_fp16()`: the convolutions compute in half
//! precision while the parameters (the master weights), the batch norms' statistics, the loss
//! and the optimizer stay in `f32`. On LibTorch the activations between the backbone's layers
//! stay in half precision too, as under PyTorch's autocast (see
//! `fastburn_vision::conv::autocast`). On Flex, bfloat16 runs fastburn's convolution with
//! bfloat16 products on the AMX tiles where the processor has them, and Burn's half-precision
//! convolution elsewhere.

use burn::tensor::DType;

use crate::{Learner, LearnerData, LearnerError, LearnerModel, ParamGrads};

/// The dtype a learner's convolutions compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Everything in `f32`.
    #[default]
    Fp32,
    /// Convolutions in bfloat16. It has `f32`'s exponent range, so no loss scaling is needed.
    Bf16,
    /// Convolutions in float16, with dynamic loss scaling against gradient underflow.
    Fp16,
}

impl Precision {
    /// Returns the dtype convolutions compute in, or `None` for `f32`.
    pub fn compute_dtype(self) -> Option<DType> {
        match self {
            Precision::Fp32 => None,
            Precision::Bf16 => Some(DType::BF16),
            Precision::Fp16 => Some(DType::F16),
        }
    }

    /// Returns the short name used on command lines: `fp32`, `bf16` or `fp16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    /// Parses a name returned by [`Precision::name`].
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Precision::Fp32, Precision::Bf16, Precision::Fp16]
            .into_iter()
            .find(|precision| precision.name() == name)
            .ok_or_else(|| format!("unknown precision `{name}`; expected fp32, bf16 or fp16"))
    }
}

/// fastai v1's dynamic loss scale: start at 2^16, halve on a step whose gradients overflow
/// (that step is skipped), double after 1000 steps without an overflow, up to 2^24.
#[derive(Debug, Clone, PartialEq)]
pub struct LossScaler {
    /// The factor the loss is multiplied by before the backward pass.
    pub scale: f64,
    /// Steps since the last overflow.
    pub good_steps: usize,
    /// Steps skipped because a gradient was not finite.
    pub skipped_steps: usize,
}

impl LossScaler {
    /// The first scale: fastai v1's default `loss_scale` when it is dynamic.
    pub const INITIAL_SCALE: f64 = 65_536.0;
    /// The largest scale: fastai v1's `max_scale`.
    pub const MAX_SCALE: f64 = 16_777_216.0;
    /// Overflow-free steps before the scale doubles: fastai v1's `max_noskip`.
    pub const GROWTH_INTERVAL: usize = 1000;

    /// Updates the scale after a backward pass and unscales `grads` in place. Returns whether
    /// the optimizer step should run, which is false when a gradient is infinite or NaN.
    ///
    /// Fails when the gradients are not finite even at scale 1: then the overflow is in the
    /// loss or the forward pass, and no smaller scale can help.
    pub fn unscale(&mut self, grads: &mut ParamGrads) -> Result<bool, LearnerError> {
        if !grads.all_finite() {
            if self.scale <= 1.0 {
                return Err(LearnerError::invalid(
                    "precision",
                    "float16 gradients are not finite even at loss scale 1, so the loss or the \
                     forward pass overflows; train with to_bf16() or to_fp32()",
                ));
            }
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
            self.skipped_steps += 1;
            return Ok(false);
        }

        grads.scale(1.0 / self.scale);
        self.good_steps += 1;
        if self.good_steps >= Self::GROWTH_INTERVAL {
            self.scale = (self.scale * 2.0).min(Self::MAX_SCALE);
            self.good_steps = 0;
        }
        Ok(true)
    }
}

impl Default for LossScaler {
    fn default() -> Self {
        Self {
            scale: Self::INITIAL_SCALE,
            good_steps: 0,
            skipped_steps: 0,
        }
    }
}

impl<M: LearnerModel, D: LearnerData> Learner<M, D> {
    /// Trains and predicts with the convolutions in float16, as fastai's `to_fp16()`, with
    /// dynamic loss scaling. Parameters, the batch norms' statistics, the loss and the
    /// optimizer stay in `f32`.
    ///
    /// It pays off only where the backend has fast float16 convolutions, as on GPUs. On the
    /// Flex CPU backend it is slower than `f32`, because fastburn's convolution has no float16
    /// products there and leaves float16 to Burn's.
    ///
    /// Fails when the learner's device has no float16 tensors.
    pub fn to_fp16(&mut self) -> Result<&mut Self, LearnerError> {
        self.set_precision(Precision::Fp16)
    }

    /// Trains and predicts with the convolutions in bfloat16, like PyTorch's bfloat16
    /// autocast, with no loss scaling.
    ///
    /// It pays off where the backend has fast bfloat16 convolutions: GPUs, LibTorch, whose
    /// oneDNN kernels use AMX on recent Xeons, and Flex on processors with AMX, where
    /// fastburn's convolution multiplies on the AMX tiles. On Flex without AMX it is slower
    /// than `f32`.
    ///
    /// Fails when the learner's device has no bfloat16 tensors.
    pub fn to_bf16(&mut self) -> Result<&mut Self, LearnerError> {
        self.set_precision(Precision::Bf16)
    }

    /// Returns to full `f32` precision, as fastai's `to_fp32()`.
    pub fn to_fp32(&mut self) -> &mut Self {
        self.set_precision(Precision::Fp32)
            .expect("every device has f32 tensors")
    }

    /// Returns the precision set by [`to_fp16`](Self::to_fp16), [`to_bf16`](Self::to_bf16)
    /// or [`to_fp32`](Self::to_fp32).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Returns the loss scaler of float16 training, if any.
    pub fn loss_scaler(&self) -> Option<&LossScaler> {
        self.loss_scaler.as_ref()
    }

    /// Sets the precision, as [`to_fp32`](Self::to_fp32), [`to_bf16`](Self::to_bf16) or
    /// [`to_fp16`](Self::to_fp16) do. Fails when the device has no tensors of its dtype.
    pub fn set_precision(&mut self, precision: Precision) -> Result<&mut Self, LearnerError> {
        if let Some(dtype) = precision.compute_dtype()
            && !self.device.supports_dtype(dtype)
        {
            return Err(LearnerError::invalid(
                "precision",
                format!(
                    "the device {:?} has no {dtype:?} tensors; use to_fp32()",
                    self.device
                ),
            ));
        }
        self.precision = precision;
        self.loss_scaler = (precision == Precision::Fp16).then(LossScaler::default);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_names_round_trip() {
        for precision in [Precision::Fp32, Precision::Bf16, Precision::Fp16] {
            assert_eq!(precision.name().parse::<Precision>(), Ok(precision));
        }
        let error = "fp8".parse::<Precision>().unwrap_err();
        assert!(error.contains("`fp8`"), "{error}");
    }

    #[test]
    fn compute_dtype_per_precision() {
        assert_eq!(Precision::Fp32.compute_dtype(), None);
        assert_eq!(Precision::Bf16.compute_dtype(), Some(DType::BF16));
        assert_eq!(Precision::Fp16.compute_dtype(), Some(DType::F16));
    }
}
