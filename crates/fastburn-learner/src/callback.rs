//! The callback trait, the training state callbacks read and change, and the event order.
//!
//! During `fit`, the events fire in this order (fastai v1's), every callback in turn, sorted by
//! [`Callback::order`]:
//!
//! ```text
//! train_begin
//!   for each epoch:   epoch_begin
//!     for each batch: batch_begin, loss_computed, backward_begin, backward_end, step_end,
//!                     batch_end
//!     (validation of the whole valid set, unless skipped)
//!                     epoch_end
//! train_end           (also after an error or a stop)
//! ```
//!
//! `backward_begin`, `backward_end` and `step_end` are skipped for a batch when a callback sets
//! [`TrainState::skip_backward`] at `loss_computed`. Validation batches fire no events.

use crate::{LearnerError, ParamGrads};

/// Result of a callback event.
pub type CallbackResult = Result<(), LearnerError>;

/// Validation results of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// Mean loss over the valid set.
    pub valid_loss: f64,
    /// Value of each metric over the valid set, in the order of [`TrainState::metric_names`].
    pub metrics: Vec<f64>,
}

/// A request a callback makes to the learner, carried out after the current event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnerRequest {
    /// Save the model and optimizer under this name, as `Learner::save` does.
    Save(String),
    /// Load the model and optimizer saved under this name, as `Learner::load` does.
    Load(String),
}

/// The state of a running `fit` that callbacks read and change (fastai's `state_dict`).
#[derive(Debug, Clone)]
pub struct TrainState {
    /// Number of epochs this `fit` runs.
    pub n_epochs: usize,
    /// Current epoch, from 0.
    pub epoch: usize,
    /// Number of training batches finished since `train_begin`.
    pub iteration: usize,
    /// Index of the current batch within the epoch, from 0.
    pub num_batch: usize,
    /// Number of training batches per epoch.
    pub num_train_batches: usize,
    /// Whether the learner is in the training phase of the epoch (false while validating).
    pub train: bool,
    /// Number of items in the current batch.
    pub batch_size: usize,
    /// Loss of the current batch.
    pub last_loss: f64,
    /// Loss averaged exponentially over batches (beta 0.98) and debiased.
    pub smooth_loss: f64,
    /// Learning rate of each layer group; changes here apply to the next optimizer step.
    pub lrs: Vec<f64>,
    /// Momentum (Adam's beta1) of each layer group; changes here apply to the next step.
    pub moms: Vec<f64>,
    /// Decoupled weight decay.
    pub wd: f64,
    /// Names of the metrics, in the order of [`EpochMetrics::metrics`].
    pub metric_names: Vec<String>,
    /// Validation results of the epoch, set before `epoch_end`.
    pub last_metrics: Option<EpochMetrics>,
    /// Set to end the current epoch after this batch.
    pub stop_epoch: bool,
    /// Set to end training after this epoch.
    pub stop_training: bool,
    /// Set to skip validation at the end of each epoch.
    pub skip_validate: bool,
    /// Set at `loss_computed` to skip the backward pass and the optimizer step of this batch.
    pub skip_backward: bool,
    /// The reason training stopped early, when a callback stopped it.
    pub stop_reason: Option<String>,
    pub(crate) requests: Vec<LearnerRequest>,
}

impl TrainState {
    pub(crate) fn new(
        n_epochs: usize,
        num_train_batches: usize,
        lrs: Vec<f64>,
        moms: Vec<f64>,
        wd: f64,
        metric_names: Vec<String>,
    ) -> Self {
        Self {
            n_epochs,
            epoch: 0,
            iteration: 0,
            num_batch: 0,
            num_train_batches,
            train: true,
            batch_size: 0,
            last_loss: f64::NAN,
            smooth_loss: f64::NAN,
            lrs,
            moms,
            wd,
            metric_names,
            last_metrics: None,
            stop_epoch: false,
            stop_training: false,
            skip_validate: false,
            skip_backward: false,
            stop_reason: None,
            requests: Vec::new(),
        }
    }

    /// Asks the learner to carry out `request` after the current event.
    pub fn request(&mut self, request: LearnerRequest) {
        self.requests.push(request);
    }

    /// Stops the epoch and the training, recording `reason`.
    pub fn stop(&mut self, reason: impl Into<String>) {
        self.stop_epoch = true;
        self.stop_training = true;
        self.stop_reason = Some(reason.into());
    }
}

/// A hook into the training loop; every method defaults to doing nothing.
pub trait Callback {
    /// Name used in error messages.
    fn name(&self) -> String {
        std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("callback")
            .to_string()
    }

    /// Position in the callback list: lower runs first (the recorder is -10, the default 0).
    fn order(&self) -> i32 {
        0
    }

    /// Called once before the first epoch.
    fn on_train_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called at the start of each epoch.
    fn on_epoch_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called before each training batch's forward pass.
    fn on_batch_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called once the batch's loss is known ([`TrainState::last_loss`], `smooth_loss`).
    fn on_loss_computed(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called just before the backward pass.
    fn on_backward_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called after the backward pass, before the optimizer step; `grads` may be changed.
    fn on_backward_end(&mut self, _state: &mut TrainState, _grads: &mut ParamGrads) -> CallbackResult {
        Ok(())
    }

    /// Called after the optimizer step.
    fn on_step_end(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called at the end of each training batch.
    fn on_batch_end(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called after validation at the end of each epoch.
    fn on_epoch_end(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }

    /// Called once when training ends, whether it finished, stopped or failed.
    fn on_train_end(&mut self, _state: &mut TrainState) -> CallbackResult {
        Ok(())
    }
}

/// fastai's `SmoothenValue`: an exponential moving average, debiased like Adam's moments.
#[derive(Debug, Clone)]
pub(crate) struct SmoothenValue {
    beta: f64,
    n: i32,
    moving_average: f64,
}

impl SmoothenValue {
    pub(crate) fn new(beta: f64) -> Self {
        Self {
            beta,
            n: 0,
            moving_average: 0.0,
        }
    }

    /// Adds `value` and returns the debiased average.
    pub(crate) fn add(&mut self, value: f64) -> f64 {
        self.n += 1;
        self.moving_average = self.beta * self.moving_average + (1.0 - self.beta) * value;
        self.moving_average / (1.0 - self.beta.powi(self.n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_debiased() {
        let mut smoother = SmoothenValue::new(0.98);
        assert!((smoother.add(2.0) - 2.0).abs() < 1e-12);
        let second = smoother.add(4.0);
        let expected = (0.98 * 0.02 * 2.0 + 0.02 * 4.0) / (1.0 - 0.98f64.powi(2));
        assert!((second - expected).abs() < 1e-12);
    }
}
