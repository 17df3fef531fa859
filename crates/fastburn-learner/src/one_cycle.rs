//! [`OneCycleScheduler`]: Leslie Smith's one-cycle policy as fastai v1 runs it.

use crate::schedule::{Annealing, Scheduler};
use crate::{Callback, CallbackResult, LearnerError, TrainState};

/// Hyper-parameters of `fit_one_cycle`, with fastai v1's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct OneCycleConfig {
    /// Momentum at the start and at the peak learning rate; it returns to the first at the end.
    pub moms: (f64, f64),
    /// The learning rate starts at `max_lr / div_factor`.
    pub div_factor: f64,
    /// Fraction of the batches spent warming up.
    pub pct_start: f64,
    /// The learning rate ends at `max_lr / final_div`; `None` is `div_factor * 1e4`.
    pub final_div: Option<f64>,
    /// Weight decay for this run; `None` keeps the learner's.
    pub wd: Option<f64>,
}

impl Default for OneCycleConfig {
    fn default() -> Self {
        Self {
            moms: (0.95, 0.85),
            div_factor: 25.0,
            pct_start: 0.3,
            final_div: None,
            wd: None,
        }
    }
}

impl OneCycleConfig {
    pub(crate) fn check(&self) -> Result<(), LearnerError> {
        if !(0.0..=1.0).contains(&self.pct_start) {
            return Err(LearnerError::invalid(
                "pct_start",
                format!("{} is outside [0, 1]", self.pct_start),
            ));
        }
        if !(self.div_factor.is_finite() && self.div_factor > 0.0) {
            return Err(LearnerError::invalid(
                "div_factor",
                format!("{} is not a positive number", self.div_factor),
            ));
        }
        if let Some(final_div) = self.final_div
            && !(final_div.is_finite() && final_div > 0.0)
        {
            return Err(LearnerError::invalid(
                "final_div",
                format!("{final_div} is not a positive number"),
            ));
        }
        Ok(())
    }
}

/// Sets learning rates and momenta batch by batch along the one-cycle schedule.
///
/// With `n` = batches per epoch × epochs, the first `int(n * pct_start)` batches anneal the
/// learning rate from `max_lr / div_factor` up to `max_lr` and the momentum from `moms.0` down to
/// `moms.1`; the remaining batches anneal the learning rate down to `max_lr / final_div` and the
/// momentum back up to `moms.0`, both by cosine. The first batch uses the start values.
#[derive(Debug, Clone)]
pub struct OneCycleScheduler {
    max_lr: Vec<f64>,
    config: OneCycleConfig,
    lr_scheds: Vec<Scheduler>,
    mom_scheds: Vec<Scheduler>,
    phase: usize,
}

impl OneCycleScheduler {
    /// Builds the scheduler for per-group peak learning rates `max_lr`.
    pub fn new(max_lr: Vec<f64>, config: OneCycleConfig) -> Self {
        Self {
            max_lr,
            config,
            lr_scheds: Vec::new(),
            mom_scheds: Vec::new(),
            phase: 0,
        }
    }

    /// Builds the two phases for `n` batches in total.
    fn build_phases(&mut self, n: usize) {
        let warmup = (n as f64 * self.config.pct_start) as usize;
        let annealing = n - warmup;
        let final_div = self
            .config
            .final_div
            .unwrap_or(self.config.div_factor * 1e4);

        let low_lr: Vec<f64> = self
            .max_lr
            .iter()
            .map(|lr| lr / self.config.div_factor)
            .collect();
        let end_lr: Vec<f64> = self.max_lr.iter().map(|lr| lr / final_div).collect();
        let groups = self.max_lr.len();
        let (mom_high, mom_low) = self.config.moms;

        self.lr_scheds = vec![
            Scheduler::new(low_lr, self.max_lr.clone(), warmup, Annealing::Cos),
            Scheduler::new(self.max_lr.clone(), end_lr, annealing, Annealing::Cos),
        ];
        self.mom_scheds = vec![
            Scheduler::new(vec![mom_high; groups], vec![mom_low; groups], warmup, Annealing::Cos),
            Scheduler::new(vec![mom_low; groups], vec![mom_high; groups], annealing, Annealing::Cos),
        ];
        self.phase = 0;
    }
}

impl Callback for OneCycleScheduler {
    fn on_train_begin(&mut self, state: &mut TrainState) -> CallbackResult {
        self.build_phases(state.num_train_batches * state.n_epochs);
        state.lrs = self.lr_scheds[0].start.clone();
        state.moms = self.mom_scheds[0].start.clone();
        Ok(())
    }

    fn on_batch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        if self.phase >= self.lr_scheds.len() {
            state.stop_epoch = true;
            state.stop_training = true;
            return Ok(());
        }

        state.lrs = self.lr_scheds[self.phase].step();
        state.moms = self.mom_scheds[self.phase].step();
        if self.lr_scheds[self.phase].is_done() {
            self.phase += 1;
        }
        Ok(())
    }
}
