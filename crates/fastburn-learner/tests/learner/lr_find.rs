//! The learning-rate finder and the recorder's plots.

use burn::module::Module;
use fastburn_learner::{Lr, LrFindConfig};

use crate::common::{tiny_learner, values};

fn assert_png(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    let image = image::load_from_memory(&bytes).unwrap();
    assert_eq!((image.width(), image.height()), (640, 480));
}

#[test]
fn lr_find_restores_model_and_optimizer() {
    let mut learner = tiny_learner(16, 4);
    learner.freeze_to(1);
    learner.fit(1, Lr::Value(1e-3)).unwrap();
    let before = learner.model().clone();
    let running_mean = values(learner.model().valid().bn1.running_mean.value());
    let opt_steps: Vec<u64> = learner.opt().state().values().map(|s| s.step).collect();

    learner
        .lr_find_with(LrFindConfig {
            num_it: 20,
            stop_div: false,
            ..LrFindConfig::default()
        })
        .unwrap();

    let after = learner.model();
    assert_eq!(values(before.conv1.weight.val()), values(after.conv1.weight.val()));
    assert_eq!(values(before.bn2.gamma.val()), values(after.bn2.gamma.val()));
    assert_eq!(values(before.head.weight.val()), values(after.head.weight.val()));
    assert_eq!(running_mean, values(after.valid().bn1.running_mean.value()));
    assert!(!after.conv1.weight.val().is_require_grad(), "frozen weights stay frozen");
    assert!(after.conv2.weight.val().is_require_grad());
    let steps_after: Vec<u64> = learner.opt().state().values().map(|s| s.step).collect();
    assert_eq!(opt_steps.len(), 8, "conv1's weight and bias are frozen");
    assert_eq!(opt_steps.len(), steps_after.len());
    assert!(steps_after.iter().all(|&step| step == 4), "optimizer steps {steps_after:?}");

    assert_eq!(learner.recorder.losses.len(), 20);
    let lrs = learner.recorder.last_group_lrs();
    assert!((lrs[0] - 1e-7).abs() < 1e-20);
    assert!((lrs[19] / lrs[18] - 1e8f64.powf(1.0 / 20.0)).abs() < 1e-9);
    assert!(learner.recorder.val_losses.is_empty(), "lr_find skips validation");
}

#[test]
fn lr_find_stops_on_divergence() {
    let mut learner = tiny_learner(16, 4);
    learner
        .lr_find_with(LrFindConfig {
            start_lr: Lr::Value(1e-3),
            end_lr: Lr::Value(1e6),
            num_it: 100,
            ..LrFindConfig::default()
        })
        .unwrap();
    let recorded = learner.recorder.losses.len();
    assert!(recorded < 100, "ran all {recorded} batches without diverging");
    assert!(learner.recorder.stop_reason.as_deref().unwrap_or("").contains("diverged"));
}

#[test]
fn suggestion_lies_in_tried_range() {
    let folder = tempfile::tempdir().unwrap();
    let mut learner = tiny_learner(32, 4);
    learner
        .lr_find_with(LrFindConfig {
            num_it: 40,
            ..LrFindConfig::default()
        })
        .unwrap();
    let lrs = learner.recorder.last_group_lrs();
    let path = folder.path().join("lr_find.png");
    let suggestion = learner.recorder.plot(&path, 10, 5).unwrap().unwrap();

    assert!(suggestion >= lrs[10], "{suggestion} is below the plotted range");
    assert!(suggestion <= lrs[lrs.len() - 6], "{suggestion} is above the plotted range");
    assert_eq!(learner.recorder.suggestion(10, 5), Some(suggestion));
    assert_png(&path);
}

#[test]
fn plots_losses_and_lr() {
    let folder = tempfile::tempdir().unwrap();
    let mut learner = tiny_learner(8, 4);
    learner.fit_one_cycle(2, Lr::Value(1e-2)).unwrap();

    let losses = folder.path().join("losses.png");
    learner.recorder.plot_losses(&losses).unwrap();
    assert_png(&losses);
    let lr = folder.path().join("lr.png");
    learner.recorder.plot_lr(&lr).unwrap();
    assert_png(&lr);

    let error = learner.recorder.plot(&folder.path().join("x.png"), 10, 5).unwrap_err();
    assert!(error.to_string().contains("skip_start"), "{error}");
}

#[test]
fn training_resumes_after_lr_find() {
    let mut learner = tiny_learner(16, 4);
    learner.unfreeze();
    learner.fit(1, Lr::Value(1e-3)).unwrap();
    learner
        .lr_find_with(LrFindConfig {
            num_it: 3,
            stop_div: false,
            ..LrFindConfig::default()
        })
        .unwrap();
    let weight = values(learner.model().conv1.weight.val());
    let running_mean = values(learner.model().valid().bn1.running_mean.value());

    learner.fit(1, Lr::Value(1e-2)).unwrap();

    assert_ne!(weight, values(learner.model().conv1.weight.val()), "the restored model still trains");
    assert_ne!(
        running_mean,
        values(learner.model().valid().bn1.running_mean.value()),
        "the restored batch norm still tracks statistics"
    );
}
