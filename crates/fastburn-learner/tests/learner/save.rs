//! `save` / `load` round trips and the best-model callback.

use fastburn_learner::callbacks::{Mode, SaveModelCallback};
use fastburn_learner::Lr;

use crate::common::{tiny_learner, values};

#[test]
fn save_load_round_trips_model_and_optimizer() {
    let folder = tempfile::tempdir().unwrap();
    let mut learner = tiny_learner(8, 4).with_path(folder.path());
    learner.fit(1, Lr::Value(1e-2)).unwrap();
    let saved_head = values(learner.model().head.weight.val());
    let path = learner.save("stage-1").unwrap();
    assert_eq!(path, folder.path().join("models").join("stage-1.safetensors"));

    learner.fit(1, Lr::Value(1e-2)).unwrap();
    assert_ne!(values(learner.model().head.weight.val()), saved_head);

    learner.load("stage-1").unwrap();
    assert_eq!(values(learner.model().head.weight.val()), saved_head);
    let steps: Vec<u64> = learner.opt().state().values().map(|state| state.step).collect();
    assert_eq!(steps.len(), 10, "one state per trainable parameter");
    assert!(steps.iter().all(|&step| step == 2));

    // The loaded model still trains.
    learner.fit(1, Lr::Value(1e-2)).unwrap();
    assert_ne!(values(learner.model().head.weight.val()), saved_head);
}

#[test]
fn load_rejects_missing_and_foreign_files() {
    let folder = tempfile::tempdir().unwrap();
    let mut learner = tiny_learner(8, 4).with_path(folder.path());
    let missing = learner.load("nothing").unwrap_err();
    assert!(missing.to_string().contains("nothing.safetensors"), "{missing}");

    std::fs::create_dir_all(folder.path().join("models")).unwrap();
    std::fs::write(folder.path().join("models").join("junk.safetensors"), b"not a file").unwrap();
    let junk = learner.load("junk").unwrap_err();
    assert!(junk.to_string().contains("junk.safetensors"), "{junk}");
}

#[test]
fn save_model_callback_keeps_best_epoch() {
    let folder = tempfile::tempdir().unwrap();
    let mut learner = tiny_learner(16, 4).with_path(folder.path());
    learner
        .fit_one_cycle_with(
            3,
            Lr::Value(1e-2),
            Default::default(),
            vec![Box::new(SaveModelCallback::new("valid_loss", Mode::Auto, "bestmodel"))],
        )
        .unwrap();

    assert!(folder.path().join("models/bestmodel.safetensors").exists());
    let val_losses = &learner.recorder.val_losses;
    let best = val_losses.iter().copied().fold(f64::INFINITY, f64::min);
    let current = learner.validate().unwrap().valid_loss;
    assert!((current - best).abs() < 1e-6, "loaded model has loss {current}, best was {best}");
}
