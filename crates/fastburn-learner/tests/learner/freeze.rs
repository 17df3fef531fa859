//! Freezing: frozen groups keep their weights, batch-norm layers and the head train.

use fastburn_learner::Lr;

use crate::common::{tiny_learner, values};

#[test]
fn freeze_steps_only_bn_and_head() {
    let mut learner = tiny_learner(4, 4);
    learner.freeze();
    assert_eq!(learner.n_frozen(), 2);

    let before = learner.model().clone();
    learner.fit(1, Lr::Value(1e-2)).unwrap();
    let after = learner.model().clone();

    assert_eq!(values(before.conv1.weight.val()), values(after.conv1.weight.val()));
    assert_eq!(values(before.conv2.weight.val()), values(after.conv2.weight.val()));
    let bias_before = values(before.conv2.bias.as_ref().unwrap().val());
    let bias_after = values(after.conv2.bias.as_ref().unwrap().val());
    assert_eq!(bias_before, bias_after);

    assert_ne!(values(before.bn1.gamma.val()), values(after.bn1.gamma.val()));
    assert_ne!(values(before.bn2.beta.val()), values(after.bn2.beta.val()));
    assert_ne!(values(before.head.weight.val()), values(after.head.weight.val()));
    assert!(!after.conv1.weight.val().is_require_grad());
}

#[test]
fn unfreeze_steps_every_group() {
    let mut learner = tiny_learner(4, 4);
    learner.freeze();
    learner.unfreeze();
    assert_eq!(learner.n_frozen(), 0);

    let before = learner.model().clone();
    learner.fit(1, Lr::Value(1e-2)).unwrap();
    let after = learner.model().clone();

    assert_ne!(values(before.conv1.weight.val()), values(after.conv1.weight.val()));
    assert_ne!(values(before.conv2.weight.val()), values(after.conv2.weight.val()));
    assert_ne!(values(before.bn1.gamma.val()), values(after.bn1.gamma.val()));
    assert_ne!(values(before.head.weight.val()), values(after.head.weight.val()));
}

#[test]
fn freeze_to_counts_from_input() {
    let mut learner = tiny_learner(4, 4);
    learner.freeze_to(1);
    let before = learner.model().clone();
    learner.fit(1, Lr::Value(1e-2)).unwrap();
    let after = learner.model().clone();

    assert_eq!(values(before.conv1.weight.val()), values(after.conv1.weight.val()));
    assert_ne!(values(before.conv2.weight.val()), values(after.conv2.weight.val()));
}
