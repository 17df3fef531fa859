//! [`TerminateOnNaN`]: stop training on a NaN or infinite loss.

use crate::{Callback, CallbackResult, TrainState};

/// Stops training as soon as a batch's loss is NaN or infinite, before that batch's optimizer
/// step, so the weights keep their last finite values.
#[derive(Debug, Clone, Default)]
pub struct TerminateOnNaN {
    /// The message of the last stop, naming the epoch and batch.
    pub message: Option<String>,
}

impl Callback for TerminateOnNaN {
    fn on_loss_computed(&mut self, state: &mut TrainState) -> CallbackResult {
        if state.last_loss.is_finite() {
            return Ok(());
        }

        let message = format!(
            "epoch {} batch {}: loss is {}, training terminated",
            state.epoch, state.num_batch, state.last_loss
        );
        log::warn!("{message}");
        state.skip_backward = true;
        state.skip_validate = true;
        state.stop(message.clone());
        self.message = Some(message);
        Ok(())
    }
}
