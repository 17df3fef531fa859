//! The learning-rate finder: `lr_find`, its [`LRFinder`] callback and the suggestion.

use crate::schedule::{Annealing, Scheduler};
use crate::{Callback, CallbackResult, Learner, LearnerData, LearnerError, LearnerModel, Lr, TrainState};

/// Settings of [`Learner::lr_find_with`], with fastai v1's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LrFindConfig {
    /// Learning rate of the first batch.
    pub start_lr: Lr,
    /// Learning rate reached after `num_it` batches.
    pub end_lr: Lr,
    /// Maximum number of batches.
    pub num_it: usize,
    /// Stop when the smoothed loss exceeds 4 times the best one or is not finite.
    pub stop_div: bool,
    /// Weight decay during the search; `None` keeps the learner's.
    pub wd: Option<f64>,
}

impl Default for LrFindConfig {
    fn default() -> Self {
        Self {
            start_lr: Lr::Value(1e-7),
            end_lr: Lr::Value(10.0),
            num_it: 100,
            stop_div: true,
            wd: None,
        }
    }
}

/// Raises the learning rate exponentially batch by batch and stops when the loss diverges.
#[derive(Debug, Clone)]
pub struct LRFinder {
    sched: Scheduler,
    stop_div: bool,
    best_loss: f64,
}

impl LRFinder {
    /// Builds a finder from `start` to `end` (per layer group) over `num_it` batches.
    pub fn new(start: Vec<f64>, end: Vec<f64>, num_it: usize, stop_div: bool) -> Self {
        Self {
            sched: Scheduler::new(start, end, num_it, Annealing::Exp),
            stop_div,
            best_loss: f64::INFINITY,
        }
    }
}

impl Callback for LRFinder {
    fn on_train_begin(&mut self, state: &mut TrainState) -> CallbackResult {
        state.lrs = self.sched.start.clone();
        state.skip_validate = true;
        self.best_loss = f64::INFINITY;
        Ok(())
    }

    fn on_batch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        let loss = state.smooth_loss;
        if state.iteration == 0 || loss < self.best_loss {
            self.best_loss = loss;
        }
        state.lrs = self.sched.step();

        if self.sched.is_done() {
            state.stop_epoch = true;
            state.stop_training = true;
        } else if self.stop_div && (!loss.is_finite() || loss > 4.0 * self.best_loss) {
            state.stop(format!(
                "lr_find: smoothed loss {loss} diverged at batch {} (best {})",
                state.iteration, self.best_loss
            ));
        }
        Ok(())
    }
}

/// Returns the learning rate at the steepest descent of the loss: the minimum of numpy's `gradient`
/// of `losses` (central differences, one-sided at the ends). `None` with fewer than 2 points.
pub fn steepest_descent_lr(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let n = lrs.len().min(losses.len());
    if n < 2 {
        return None;
    }

    let gradient = |i: usize| -> f64 {
        if i == 0 {
            losses[1] - losses[0]
        } else if i == n - 1 {
            losses[n - 1] - losses[n - 2]
        } else {
            (losses[i + 1] - losses[i - 1]) / 2.0
        }
    };
    let best = (0..n)
        .filter(|&i| gradient(i).is_finite())
        .min_by(|&a, &b| gradient(a).total_cmp(&gradient(b)))?;
    Some(lrs[best])
}

impl<M: LearnerModel, D: LearnerData> Learner<M, D> {
    /// Runs the learning-rate finder with fastai's defaults (1e-7 to 10 over 100 batches).
    pub fn lr_find(&mut self) -> Result<(), LearnerError> {
        self.lr_find_with(LrFindConfig::default())
    }

    /// Trains with an exponentially rising learning rate, recording the smoothed loss in
    /// [`recorder`](Self::recorder), then restores the model (weights and batch-norm
    /// statistics), the optimizer and the loss scale exactly as they were, even when the
    /// search fails.
    pub fn lr_find_with(&mut self, config: LrFindConfig) -> Result<(), LearnerError> {
        if config.num_it == 0 {
            return Err(LearnerError::invalid("num_it", "lr_find needs at least one batch"));
        }
        let n_groups = self.layer_groups.len();
        let start = config.start_lr.spread(n_groups)?;
        let end = config.end_lr.spread(n_groups)?;
        if start.iter().chain(&end).any(|&lr| lr <= 0.0) {
            return Err(LearnerError::invalid(
                "start_lr/end_lr",
                "an exponential schedule needs positive learning rates",
            ));
        }
        let batches = self.data.num_train_batches().max(1);
        let epochs = config.num_it.div_ceil(batches);

        // `valid()` copies the batch-norm statistics into new buffers, so training cannot
        // change the snapshot; `train()` restores the gradient settings on the way back.
        let model_snapshot = self.model.valid();
        let opt_snapshot = self.opt.clone();
        let scaler_snapshot = self.loss_scaler.clone();

        let finder = LRFinder::new(start.clone(), end, config.num_it, config.stop_div);
        let result = self.fit_lrs(epochs, start, config.wd, vec![Box::new(finder)]);

        self.model = model_snapshot.train();
        self.opt = opt_snapshot;
        self.loss_scaler = scaler_snapshot;
        result
    }
}
