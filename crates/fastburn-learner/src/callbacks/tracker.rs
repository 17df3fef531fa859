//! Callbacks that track a monitored value across epochs: [`SaveModelCallback`] and
//! [`EarlyStopping`].

use crate::{Callback, CallbackResult, LearnerError, LearnerRequest, TrainState};

/// Whether a lower or a higher monitored value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (losses, error rates).
    Min,
    /// Higher is better (accuracy).
    Max,
    /// `Max` for names containing `acc`, `Min` otherwise, as fastai's `mode='auto'`.
    Auto,
}

/// The monitored value and how to compare it.
#[derive(Debug, Clone)]
struct Tracker {
    monitor: String,
    greater_is_better: bool,
    min_delta: f64,
    best: Option<f64>,
}

impl Tracker {
    fn new(monitor: &str, mode: Mode, min_delta: f64) -> Self {
        let greater_is_better = match mode {
            Mode::Min => false,
            Mode::Max => true,
            Mode::Auto => monitor.contains("acc"),
        };
        Self {
            monitor: monitor.to_string(),
            greater_is_better,
            min_delta,
            best: None,
        }
    }

    /// Returns the monitored value this epoch: `valid_loss`, `train_loss` or a metric name.
    fn current(&self, state: &TrainState) -> Result<Option<f64>, LearnerError> {
        if self.monitor == "train_loss" {
            return Ok(Some(state.smooth_loss));
        }
        let Some(results) = &state.last_metrics else {
            return Ok(None);
        };
        if self.monitor == "valid_loss" {
            return Ok(Some(results.valid_loss));
        }
        match state.metric_names.iter().position(|name| *name == self.monitor) {
            Some(index) => Ok(results.metrics.get(index).copied()),
            None => Err(LearnerError::invalid(
                "monitor",
                format!(
                    "`{}` is not train_loss, valid_loss or one of the metrics {:?}",
                    self.monitor, state.metric_names
                ),
            )),
        }
    }

    /// Records `value` and returns whether it improved on the best so far.
    fn improved(&mut self, value: f64) -> bool {
        let better = match self.best {
            None => true,
            Some(best) if self.greater_is_better => value - self.min_delta > best,
            Some(best) => value + self.min_delta < best,
        };
        if better {
            self.best = Some(value);
        }
        better
    }
}

/// Saves the model each time the monitored value improves, and loads the best model back when
/// training ends (fastai's `SaveModelCallback` with `every='improvement'`).
#[derive(Debug, Clone)]
pub struct SaveModelCallback {
    tracker: Tracker,
    /// Name passed to `Learner::save`.
    pub name: String,
    /// Epoch of the best value, once one was seen.
    pub best_epoch: Option<usize>,
}

impl SaveModelCallback {
    /// Monitors `monitor` (`valid_loss`, `train_loss` or a metric name) and saves as `name`.
    pub fn new(monitor: &str, mode: Mode, name: &str) -> Self {
        Self {
            tracker: Tracker::new(monitor, mode, 0.0),
            name: name.to_string(),
            best_epoch: None,
        }
    }

    /// Returns the best monitored value so far.
    pub fn best(&self) -> Option<f64> {
        self.tracker.best
    }
}

impl Callback for SaveModelCallback {
    fn on_train_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        self.tracker.best = None;
        self.best_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        let Some(value) = self.tracker.current(state)? else {
            return Ok(());
        };
        if self.tracker.improved(value) {
            log::info!(
                "epoch {}: best {} so far, {value}; saving as {}",
                state.epoch,
                self.tracker.monitor,
                self.name
            );
            self.best_epoch = Some(state.epoch);
            state.request(LearnerRequest::Save(self.name.clone()));
        }
        Ok(())
    }

    fn on_train_end(&mut self, state: &mut TrainState) -> CallbackResult {
        if self.best_epoch.is_some() {
            state.request(LearnerRequest::Load(self.name.clone()));
        }
        Ok(())
    }
}

/// Stops training when the monitored value has not improved by `min_delta` for `patience`
/// epochs (fastai's `EarlyStoppingCallback`).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    tracker: Tracker,
    /// Epochs without improvement tolerated.
    pub patience: usize,
    wait: usize,
}

impl EarlyStopping {
    /// Monitors `monitor` with the given mode, minimum improvement and patience.
    pub fn new(monitor: &str, mode: Mode, min_delta: f64, patience: usize) -> Self {
        Self {
            tracker: Tracker::new(monitor, mode, min_delta.abs()),
            patience,
            wait: 0,
        }
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        self.tracker.best = None;
        self.wait = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        let Some(value) = self.tracker.current(state)? else {
            return Ok(());
        };
        if self.tracker.improved(value) {
            self.wait = 0;
            return Ok(());
        }

        self.wait += 1;
        if self.wait > self.patience {
            state.stop(format!(
                "epoch {}: {} has not improved for {} epochs",
                state.epoch, self.tracker.monitor, self.wait
            ));
        }
        Ok(())
    }
}
