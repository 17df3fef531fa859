//! [`Recorder`]: the history of every `fit`, kept by the learner as fastai's `learn.recorder`.

use std::time::{Duration, Instant};

use crate::{Callback, CallbackResult, TrainState};

/// Records hyper-parameters and losses per batch and validation results per epoch.
///
/// It is reset at the start of every `fit`, so after `lr_find` it contains the finder's run.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// Learning rate of each layer group at each training batch.
    pub lrs: Vec<Vec<f64>>,
    /// Momentum of each layer group at each training batch.
    pub moms: Vec<Vec<f64>>,
    /// Smoothed training loss after each batch.
    pub losses: Vec<f64>,
    /// Number of training batches done at the end of each epoch.
    pub nb_batches: Vec<usize>,
    /// Validation loss of each epoch.
    pub val_losses: Vec<f64>,
    /// Metric values of each epoch, in the order of [`metric_names`](Self::metric_names).
    pub metrics: Vec<Vec<f64>>,
    /// Names of the metrics.
    pub metric_names: Vec<String>,
    /// Wall-clock duration of each epoch, training and validation.
    pub epoch_times: Vec<Duration>,
    /// The reason training stopped early, when a callback stopped it.
    pub stop_reason: Option<String>,
    epoch_start: Option<Instant>,
}

impl Recorder {
    /// Returns the learning rate of the last layer group at each batch, what fastai plots.
    pub fn last_group_lrs(&self) -> Vec<f64> {
        self.lrs
            .iter()
            .map(|lrs| lrs.last().copied().unwrap_or(f64::NAN))
            .collect()
    }

    /// Returns the momentum of the last layer group at each batch.
    pub fn last_group_moms(&self) -> Vec<f64> {
        self.moms
            .iter()
            .map(|moms| moms.last().copied().unwrap_or(f64::NAN))
            .collect()
    }
}

impl Callback for Recorder {
    fn order(&self) -> i32 {
        -10
    }

    fn on_train_begin(&mut self, state: &mut TrainState) -> CallbackResult {
        *self = Recorder {
            metric_names: state.metric_names.clone(),
            ..Recorder::default()
        };
        Ok(())
    }

    fn on_epoch_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        self.epoch_start = Some(Instant::now());
        Ok(())
    }

    fn on_batch_begin(&mut self, state: &mut TrainState) -> CallbackResult {
        self.lrs.push(state.lrs.clone());
        self.moms.push(state.moms.clone());
        Ok(())
    }

    fn on_loss_computed(&mut self, state: &mut TrainState) -> CallbackResult {
        self.losses.push(state.smooth_loss);
        Ok(())
    }

    fn on_epoch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        self.nb_batches.push(state.iteration);
        if let Some(results) = &state.last_metrics {
            self.val_losses.push(results.valid_loss);
            self.metrics.push(results.metrics.clone());
        }
        let elapsed = self.epoch_start.map(|start| start.elapsed()).unwrap_or_default();
        self.epoch_times.push(elapsed);
        Ok(())
    }

    fn on_train_end(&mut self, state: &mut TrainState) -> CallbackResult {
        self.stop_reason = state.stop_reason.clone();
        Ok(())
    }
}
