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
