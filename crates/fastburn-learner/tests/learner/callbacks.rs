//! Callback events, their order, and the callbacks built on them.

use std::cell::RefCell;
use std::rc::Rc;

use fastburn_learner::callbacks::{CsvLogger, EarlyStopping, GradientClipping, Mode, TerminateOnNaN};
use fastburn_learner::{Callback, CallbackResult, Lr, ParamGrads, TrainState};

use crate::common::{tiny_learner, values};

/// Appends the name of every event it receives to a shared log.
struct EventLog(Rc<RefCell<Vec<String>>>);

impl EventLog {
    fn push(&self, event: &str) -> CallbackResult {
        self.0.borrow_mut().push(event.to_string());
        Ok(())
    }
}

impl Callback for EventLog {
    fn on_train_begin(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("train_begin")
    }
    fn on_epoch_begin(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("epoch_begin")
    }
    fn on_batch_begin(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("batch_begin")
    }
    fn on_loss_computed(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("loss_computed")
    }
    fn on_backward_begin(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("backward_begin")
    }
    fn on_backward_end(&mut self, _: &mut TrainState, _: &mut ParamGrads) -> CallbackResult {
        self.push("backward_end")
    }
    fn on_step_end(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("step_end")
    }
    fn on_batch_end(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("batch_end")
    }
    fn on_epoch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        assert!(state.last_metrics.is_some(), "validation runs before epoch_end");
        self.push("epoch_end")
    }
    fn on_train_end(&mut self, _: &mut TrainState) -> CallbackResult {
        self.push("train_end")
    }
}

#[test]
fn events_fire_in_documented_order() {
    let mut learner = tiny_learner(8, 4);
    let log = Rc::new(RefCell::new(Vec::new()));
    learner
        .fit_with(1, Lr::Value(1e-3), None, vec![Box::new(EventLog(log.clone()))])
        .unwrap();

    let batch = [
        "batch_begin",
        "loss_computed",
        "backward_begin",
        "backward_end",
        "step_end",
        "batch_end",
    ];
    let mut expected = vec!["train_begin", "epoch_begin"];
    expected.extend(batch);
    expected.extend(batch);
    expected.extend(["epoch_end", "train_end"]);
    assert_eq!(*log.borrow(), expected);
}

/// Stops the epoch after its first batch and the training after the first epoch.
struct StopAfterFirstBatch;

impl Callback for StopAfterFirstBatch {
    fn on_batch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        state.stop_epoch = true;
        state.stop_training = true;
        Ok(())
    }
}

#[test]
fn callback_stops_training() {
    let mut learner = tiny_learner(16, 4);
    learner
        .fit_with(3, Lr::Value(1e-3), None, vec![Box::new(StopAfterFirstBatch)])
        .unwrap();
    assert_eq!(learner.recorder.losses.len(), 1);
    assert_eq!(learner.recorder.val_losses.len(), 1);
}

#[test]
fn nan_loss_terminates_with_position() {
    let mut learner = tiny_learner(16, 4);
    // Poisons one pixel of the sixth training image: epoch 0, batch 1.
    learner_data_poison(&mut learner);
    learner.callbacks.push(Box::new(TerminateOnNaN::default()));
    let head_before = values(learner.model().head.weight.val());

    learner.fit(2, Lr::Value(1e-3)).unwrap();

    assert_eq!(learner.recorder.losses.len(), 2, "stops at the second batch");
    assert!(learner.recorder.val_losses.is_empty(), "validation is skipped");
    let reason = learner.recorder.stop_reason.clone().unwrap();
    assert!(reason.contains("epoch 0 batch 1"), "{reason}");
    let head_after = values(learner.model().head.weight.val());
    assert!(head_after.iter().all(|value| value.is_finite()));
    assert_ne!(head_before, head_after, "the first batch still trained");
}

fn learner_data_poison(learner: &mut fastburn_learner::Learner<crate::common::TinyNet, crate::common::ColourData>) {
    let mut data = crate::common::ColourData::new(16, 16, 8, 4);
    data.train[5].0[0] = f32::NAN;
    let model = learner.model().clone();
    *learner = fastburn_learner::Learner::with_cross_entropy(data, model, vec![fastburn_learner::accuracy()]).unwrap();
    learner.show_progress = false;
}

/// Records the global gradient norm that a callback after clipping receives.
struct NormLog(Rc<RefCell<Vec<f64>>>);

impl Callback for NormLog {
    fn order(&self) -> i32 {
        1
    }
    fn on_backward_end(&mut self, _: &mut TrainState, grads: &mut ParamGrads) -> CallbackResult {
        self.0.borrow_mut().push(grads.global_norm());
        Ok(())
    }
}

#[test]
fn gradient_clipping_bounds_norm() {
    let mut learner = tiny_learner(8, 4);
    let norms = Rc::new(RefCell::new(Vec::new()));
    learner
        .fit_with(
            1,
            Lr::Value(1e-3),
            None,
            vec![Box::new(GradientClipping::new(1e-3)), Box::new(NormLog(norms.clone()))],
        )
        .unwrap();
    assert_eq!(norms.borrow().len(), 2);
    for norm in norms.borrow().iter() {
        assert!(*norm <= 1e-3 * 1.0001, "norm {norm} exceeds the clip");
        assert!(*norm > 1e-4, "norm {norm} was scaled too far");
    }
}

#[test]
fn early_stopping_stops_without_improvement() {
    let mut learner = tiny_learner(8, 4);
    // No change of the loss can beat a min_delta of 1e3, so only the first epoch improves.
    learner
        .fit_with(
            6,
            Lr::Value(1e-3),
            None,
            vec![Box::new(EarlyStopping::new("valid_loss", Mode::Auto, 1e3, 1))],
        )
        .unwrap();
    assert_eq!(learner.recorder.val_losses.len(), 3);
}

#[test]
fn csv_logger_writes_each_epoch() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("history.csv");
    let mut learner = tiny_learner(8, 4);
    learner
        .fit_with(2, Lr::Value(1e-3), None, vec![Box::new(CsvLogger::new(&path))])
        .unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "epoch,train_loss,valid_loss,accuracy,time");
    assert!(lines[2].starts_with("1,"));
    let valid_loss: f64 = lines[2].split(',').nth(2).unwrap().parse().unwrap();
    assert!((valid_loss - learner.recorder.val_losses[1]).abs() < 1e-5);
}
