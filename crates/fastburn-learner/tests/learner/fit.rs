//! End-to-end training on the colour data set.

use fastburn_learner::Lr;

use crate::common::tiny_learner;

#[test]
fn fit_one_cycle_learns_colours() {
    let mut learner = tiny_learner(64, 16);
    let before = learner.validate().unwrap();
    learner.fit_one_cycle(4, Lr::Value(2e-2)).unwrap();
    let after = learner.validate().unwrap();

    assert_eq!(learner.recorder.val_losses.len(), 4);
    assert_eq!(learner.recorder.metrics.len(), 4);
    assert!(after.metrics[0] >= 0.9, "accuracy {} after training", after.metrics[0]);
    assert!(after.valid_loss < before.valid_loss, "{} !< {}", after.valid_loss, before.valid_loss);
    assert_eq!(learner.recorder.metrics[3][0], after.metrics[0]);
}

#[test]
fn get_preds_matches_validation() {
    let mut learner = tiny_learner(16, 4);
    learner.fit(1, Lr::Value(1e-2)).unwrap();
    let preds = learner.get_preds().unwrap();
    let results = learner.validate().unwrap();

    assert_eq!(preds.probs.len(), 16);
    assert_eq!(preds.losses.len(), 16);
    let expected_targets: Vec<usize> = (0..16).map(|i| i % 2).collect();
    assert_eq!(preds.targets, expected_targets);
    for probs in &preds.probs {
        assert_eq!(probs.len(), 2);
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    let mean_loss = preds.losses.iter().map(|&l| l as f64).sum::<f64>() / 16.0;
    assert!((mean_loss - results.valid_loss).abs() < 1e-5);
    // The loss of each item is -ln of its target's probability.
    let item0 = -(preds.probs[0][preds.targets[0]] as f64).ln();
    assert!((item0 - preds.losses[0] as f64).abs() < 1e-4);
    let hits = preds
        .probs
        .iter()
        .zip(&preds.targets)
        .filter(|(probs, target)| (probs[1] > probs[0]) as usize == **target)
        .count();
    assert!((hits as f64 / 16.0 - results.metrics[0]).abs() < 1e-9);
}

#[test]
fn epochs_continue_across_fit_calls() {
    let mut learner = tiny_learner(16, 4);
    learner.fit(2, Lr::Value(1e-3)).unwrap();
    learner
        .lr_find_with(fastburn_learner::LrFindConfig {
            num_it: 2,
            ..Default::default()
        })
        .unwrap();
    learner.fit_one_cycle(1, Lr::Value(1e-3)).unwrap();

    // Restarting at epoch 0 in every call would replay the same shuffle and augmentations.
    let requested = learner.data().epochs_requested.lock().unwrap().clone();
    assert_eq!(requested, vec![0, 1, 2, 3]);
}
