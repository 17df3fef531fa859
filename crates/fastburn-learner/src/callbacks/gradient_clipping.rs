//! [`GradientClipping`]: clip the global gradient norm before each step.

use crate::{Callback, CallbackResult, ParamGrads, TrainState};

/// Scales all gradients down together when their global L2 norm exceeds `max_norm`, as
/// PyTorch's `clip_grad_norm_` (used by fastai's `GradientClipping`) does.
#[derive(Debug, Clone)]
pub struct GradientClipping {
    /// Maximum global norm of the gradients.
    pub max_norm: f64,
}

impl GradientClipping {
    /// Clips to `max_norm` (fastai's default is 0.0 = off; pass a positive value).
    pub fn new(max_norm: f64) -> Self {
        Self { max_norm }
    }
}

impl Callback for GradientClipping {
    fn on_backward_end(&mut self, _state: &mut TrainState, grads: &mut ParamGrads) -> CallbackResult {
        if self.max_norm <= 0.0 {
            return Ok(());
        }

        let norm = grads.global_norm();
        // The 1e-6 term matches PyTorch and keeps a zero norm from dividing by zero.
        let factor = self.max_norm / (norm + 1e-6);
        if factor < 1.0 {
            grads.scale(factor);
        }
        Ok(())
    }
}
