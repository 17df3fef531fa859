//! The training loop: `fit`, `fit_one_cycle` and the event dispatch of [`Callback`]s.

use burn::tensor::Tensor;
use fastburn_vision::conv::autocast;

use crate::callback::SmoothenValue;
use crate::{
    Callback, DataBatch, LearnerData, LearnerError, LearnerModel, LearnerRequest, Lr,
    OneCycleConfig, OneCycleScheduler, ParamGrads, ProgressCallback, TrainState,
};
use crate::Learner;

/// Beta of the training-loss moving average (fastai's `CallbackHandler` default).
const SMOOTHING_BETA: f64 = 0.98;

impl<M: LearnerModel, D: LearnerData> Learner<M, D> {
    /// Trains for `epochs` epochs at constant learning rates `lr` (fastai's `fit`).
    pub fn fit(&mut self, epochs: usize, lr: impl Into<Lr>) -> Result<(), LearnerError> {
        self.fit_with(epochs, lr.into(), None, Vec::new())
    }

    /// Trains for `epochs` epochs starting at learning rates `lr`, with weight decay `wd` (or
    /// the learner's) and `callbacks` added to the learner's own for this run.
    pub fn fit_with(
        &mut self,
        epochs: usize,
        lr: Lr,
        wd: Option<f64>,
        callbacks: Vec<Box<dyn Callback>>,
    ) -> Result<(), LearnerError> {
        let lrs = lr.spread(self.layer_groups.len())?;
        self.fit_lrs(epochs, lrs, wd, callbacks)
    }

    /// `fit_with` with the learning rates already spread over the layer groups.
    pub(crate) fn fit_lrs(
        &mut self,
        epochs: usize,
        lrs: Vec<f64>,
        wd: Option<f64>,
        callbacks: Vec<Box<dyn Callback>>,
    ) -> Result<(), LearnerError> {
        let wd = wd.unwrap_or(self.opt_config.wd);
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(LearnerError::invalid("wd", format!("{wd} is not a non-negative number")));
        }
        if self.data.num_train_batches() == 0 {
            return Err(LearnerError::invalid(
                "data",
                "the training set has no batch; add images or lower the batch size",
            ));
        }

        self.opt.lrs = lrs;
        self.opt.wd = wd;
        self.run(epochs, callbacks)
    }

    /// Trains for `cyc_len` epochs along the one-cycle policy peaking at `max_lr`, with
    /// fastai's defaults (moms 0.95 → 0.85, div_factor 25, pct_start 0.3).
    pub fn fit_one_cycle(&mut self, cyc_len: usize, max_lr: impl Into<Lr>) -> Result<(), LearnerError> {
        self.fit_one_cycle_with(cyc_len, max_lr.into(), OneCycleConfig::default(), Vec::new())
    }

    /// [`fit_one_cycle`](Self::fit_one_cycle) with every hyper-parameter and extra callbacks.
    pub fn fit_one_cycle_with(
        &mut self,
        cyc_len: usize,
        max_lr: Lr,
        config: OneCycleConfig,
        mut callbacks: Vec<Box<dyn Callback>>,
    ) -> Result<(), LearnerError> {
        config.check()?;
        let max_lrs = max_lr.spread(self.layer_groups.len())?;
        let wd = config.wd;
        callbacks.push(Box::new(OneCycleScheduler::new(max_lrs.clone(), config)));
        self.fit_lrs(cyc_len, max_lrs, wd, callbacks)
    }

    /// Runs the loop with the recorder, the learner's callbacks, `extra` and the progress
    /// display, and gives the recorder and callbacks back to the learner afterwards.
    fn run(&mut self, epochs: usize, mut extra: Vec<Box<dyn Callback>>) -> Result<(), LearnerError> {
        let mut recorder = std::mem::take(&mut self.recorder);
        let mut own = std::mem::take(&mut self.callbacks);
        let mut progress = ProgressCallback::new(self.metrics.iter().map(|m| m.name()).collect());

        let mut callbacks: Vec<&mut dyn Callback> = Vec::new();
        callbacks.push(&mut recorder);
        for callback in own.iter_mut() {
            callbacks.push(callback.as_mut());
        }
        for callback in extra.iter_mut() {
            callbacks.push(callback.as_mut());
        }
        if self.show_progress {
            callbacks.push(&mut progress);
        }
        // A stable sort keeps the documented order among callbacks of equal rank.
        callbacks.sort_by_key(|callback| callback.order());

        let mut state = TrainState::new(
            epochs,
            self.data.num_train_batches(),
            self.opt.lrs.clone(),
            self.opt.moms.clone(),
            self.opt.wd,
            self.metrics.iter().map(|m| m.name()).collect(),
        );

        let result = self.run_epochs(&mut callbacks, &mut state);
        let end = self.dispatch(&mut callbacks, &mut state, |cb, state| cb.on_train_end(state));
        self.opt.lrs = state.lrs.clone();
        self.opt.moms = state.moms.clone();

        drop(callbacks);
        self.recorder = recorder;
        self.callbacks = own;
        if let Some(reason) = &state.stop_reason {
            log::warn!("training stopped early: {reason}");
        }
        result.and(end)
    }

    fn run_epochs(
        &mut self,
        callbacks: &mut [&mut dyn Callback],
        state: &mut TrainState,
    ) -> Result<(), LearnerError> {
        let mut smoother = SmoothenValue::new(SMOOTHING_BETA);
        self.dispatch(callbacks, state, |cb, state| cb.on_train_begin(state))?;

        for epoch in 0..state.n_epochs {
            state.epoch = epoch;
            state.num_batch = 0;
            state.stop_epoch = false;
            state.train = true;
            state.last_metrics = None;
            self.dispatch(callbacks, state, |cb, state| cb.on_epoch_begin(state))?;

            // The epoch count runs on across `fit` calls, as fastai's random state does. Restarting
            // it at each call would replay the first epochs' batches and augmentations.
            let data_epoch = self.epochs_started;
            self.epochs_started += 1;
            let device = self.device.clone().autodiff();
            let data = self.data.clone();
            for batch in data.train_batches(data_epoch, &device) {
                let batch = batch.map_err(|error| LearnerError::Data(error.to_string()))?;
                self.train_batch(callbacks, state, &mut smoother, batch)?;
                state.num_batch += 1;
                if state.stop_epoch {
                    break;
                }
            }

            state.train = false;
            // Like fastai, an empty valid set skips validation instead of failing.
            if !state.skip_validate && self.data.num_valid_batches() > 0 {
                state.last_metrics = Some(self.validate()?);
            }
            self.dispatch(callbacks, state, |cb, state| cb.on_epoch_end(state))?;
            if state.stop_training {
                break;
            }
        }
        Ok(())
    }

    fn train_batch(
        &mut self,
        callbacks: &mut [&mut dyn Callback],
        state: &mut TrainState,
        smoother: &mut SmoothenValue,
        batch: DataBatch,
    ) -> Result<(), LearnerError> {
        state.batch_size = batch.targets.dims()[0];
        state.skip_backward = false;
        self.dispatch(callbacks, state, |cb, state| cb.on_batch_begin(state))?;

        let model = &self.model;
        let output = autocast(self.precision.compute_dtype(), || model.forward(batch.images));
        let loss = self.loss.mean(output, batch.targets);
        state.last_loss = loss.clone().into_scalar::<f32>() as f64;
        state.smooth_loss = smoother.add(state.last_loss);
        self.dispatch(callbacks, state, |cb, state| cb.on_loss_computed(state))?;

        if !state.skip_backward {
            self.backward_and_step(callbacks, state, loss)?;
        }

        self.dispatch(callbacks, state, |cb, state| cb.on_batch_end(state))?;
        state.iteration += 1;
        Ok(())
    }

    /// Runs the backward pass and, unless float16 gradients overflowed, the optimizer step.
    fn backward_and_step(
        &mut self,
        callbacks: &mut [&mut dyn Callback],
        state: &mut TrainState,
        loss: Tensor<1>,
    ) -> Result<(), LearnerError> {
        self.dispatch(callbacks, state, |cb, state| cb.on_backward_begin(state))?;
        let scaled_loss = match &self.loss_scaler {
            Some(scaler) => loss.mul_scalar(scaler.scale),
            None => loss,
        };
        let mut grads = ParamGrads::from_backward(&self.model, scaled_loss.backward());
        let step = match &mut self.loss_scaler {
            Some(scaler) => scaler.unscale(&mut grads)?,
            None => true,
        };
        if !step {
            // fastai skips the step whose gradients overflowed and goes on with a smaller scale.
            return Ok(());
        }

        for callback in callbacks.iter_mut() {
            callback.on_backward_end(state, &mut grads).map_err(|error| named(&**callback, error))?;
            self.handle_requests(state)?;
        }
        self.opt.lrs = state.lrs.clone();
        self.opt.moms = state.moms.clone();
        self.opt.wd = state.wd;
        self.model = self.opt.step(self.model.clone(), grads);
        self.dispatch(callbacks, state, |cb, state| cb.on_step_end(state))
    }

    /// Calls `event` on every callback in order, carrying out their requests after each.
    pub(crate) fn dispatch(
        &mut self,
        callbacks: &mut [&mut dyn Callback],
        state: &mut TrainState,
        event: impl Fn(&mut dyn Callback, &mut TrainState) -> Result<(), LearnerError>,
    ) -> Result<(), LearnerError> {
        for callback in callbacks.iter_mut() {
            event(&mut **callback, state).map_err(|error| named(&**callback, error))?;
            self.handle_requests(state)?;
        }
        Ok(())
    }

    fn handle_requests(&mut self, state: &mut TrainState) -> Result<(), LearnerError> {
        for request in std::mem::take(&mut state.requests) {
            match request {
                LearnerRequest::Save(name) => {
                    self.save(&name)?;
                }
                LearnerRequest::Load(name) => self.load(&name)?,
            }
        }
        Ok(())
    }
}

/// Wraps an error a callback returned with the callback's name, unless it already is one.
fn named(callback: &dyn Callback, error: LearnerError) -> LearnerError {
    match error {
        LearnerError::Callback { .. } => error,
        other => LearnerError::Callback {
            callback: callback.name(),
            reason: other.to_string(),
        },
    }
}
