//! Top losses, confusion matrix and most_confused on hand-made predictions with known
//! results, and the typed errors for inconsistent predictions.

use std::path::PathBuf;

use fastburn_interpret::{ClassificationInterpretation, InterpretError, TopLoss};

fn names(classes: &[&str]) -> Vec<String> {
    classes.iter().map(|name| name.to_string()).collect()
}

fn paths(n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| PathBuf::from(format!("valid/item{i}.png"))).collect()
}

/// Row giving probability `p` to class `predicted` and sharing the rest evenly.
fn row(classes: usize, predicted: usize, p: f32) -> Vec<f32> {
    let rest = (1.0 - p) / (classes - 1) as f32;
    (0..classes).map(|class| if class == predicted { p } else { rest }).collect()
}

/// Builds an interpretation of items given as (actual, predicted) pairs, with losses from the
/// probability of the actual class.
fn from_pairs(classes: &[&str], pairs: &[(usize, usize)]) -> ClassificationInterpretation {
    let c = classes.len();
    let probs: Vec<Vec<f32>> = pairs.iter().map(|&(_, predicted)| row(c, predicted, 0.9)).collect();
    let targets: Vec<usize> = pairs.iter().map(|&(actual, _)| actual).collect();
    let losses = probs.iter().zip(&targets).map(|(probs, &target)| -probs[target].ln()).collect();
    ClassificationInterpretation::new(names(classes), paths(pairs.len()), probs, targets, losses).unwrap()
}

/// Repeats the (actual, predicted) pair `count` times.
fn repeat(actual: usize, predicted: usize, count: usize) -> Vec<(usize, usize)> {
    vec![(actual, predicted); count]
}

fn with_losses(losses: Vec<f32>) -> ClassificationInterpretation {
    let n = losses.len();
    let probs = vec![vec![0.5, 0.5]; n];
    ClassificationInterpretation::new(names(&["a", "b"]), paths(n), probs, vec![0; n], losses).unwrap()
}

#[test]
fn top_losses_largest_first_ties_stable() {
    let interpretation = with_losses(vec![0.5, 2.0, 0.5, 3.0, 2.0]);
    let expected = vec![
        TopLoss { loss: 3.0, index: 3 },
        TopLoss { loss: 2.0, index: 1 },
        TopLoss { loss: 2.0, index: 4 },
        TopLoss { loss: 0.5, index: 0 },
        TopLoss { loss: 0.5, index: 2 },
    ];
    assert_eq!(interpretation.top_losses(None), expected);
    assert_eq!(interpretation.top_losses(Some(2)), expected[..2].to_vec());
}

#[test]
fn top_losses_k_beyond_items() {
    let interpretation = with_losses(vec![0.1, 0.3]);
    let top = interpretation.top_losses(Some(10));
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].index, 1);
    assert!(interpretation.top_losses(Some(0)).is_empty());
}

#[test]
fn top_losses_infinite_loss_first() {
    let interpretation = with_losses(vec![1.0, f32::INFINITY, 0.0]);
    let indices: Vec<usize> = interpretation.top_losses(None).iter().map(|entry| entry.index).collect();
    assert_eq!(indices, vec![1, 0, 2]);
}

#[test]
fn preds_are_argmax_first_on_ties() {
    let probs = vec![vec![0.2, 0.5, 0.3], vec![0.4, 0.4, 0.2], vec![0.1, 0.1, 0.8]];
    let interpretation =
        ClassificationInterpretation::new(names(&["a", "b", "c"]), paths(3), probs, vec![1, 1, 2], vec![0.7, 0.9, 0.2])
            .unwrap();
    assert_eq!(interpretation.preds(), &[1, 0, 2]);
    assert_eq!(interpretation.accuracy(), Some(2.0 / 3.0));
}

#[test]
fn confusion_matrix_rows_actual_columns_predicted() {
    let pairs: Vec<(usize, usize)> = [repeat(0, 0, 4), repeat(0, 2, 1), repeat(1, 0, 2), repeat(2, 2, 3), repeat(2, 1, 1)].concat();
    let interpretation = from_pairs(&["a", "b", "c"], &pairs);
    let matrix = interpretation.confusion_matrix();
    assert_eq!(matrix, vec![vec![4, 0, 1], vec![2, 0, 0], vec![0, 1, 3]]);

    let total: usize = matrix.iter().flatten().sum();
    assert_eq!(total, pairs.len());
}

#[test]
fn confusion_matrix_without_items_is_zero() {
    let interpretation = from_pairs(&["a", "b"], &[]);
    assert_eq!(interpretation.confusion_matrix(), vec![vec![0, 0], vec![0, 0]]);
    assert_eq!(interpretation.accuracy(), None);
    assert!(interpretation.top_losses(None).is_empty());
}

#[test]
fn most_confused_like_notebook() {
    // Counts shaped like the rock-paper-scissors notebook: scissors taken for paper 11 times,
    // paper for scissors 6 times, then smaller confusions.
    let (paper, rock, scissors) = (0, 1, 2);
    let pairs = [
        repeat(paper, paper, 110),
        repeat(paper, scissors, 6),
        repeat(paper, rock, 1),
        repeat(rock, rock, 120),
        repeat(rock, paper, 2),
        repeat(scissors, scissors, 100),
        repeat(scissors, paper, 11),
        repeat(scissors, rock, 2),
    ]
    .concat();
    let interpretation = from_pairs(&["paper", "rock", "scissors"], &pairs);

    let expected: Vec<(String, String, usize)> = vec![
        ("scissors".into(), "paper".into(), 11),
        ("paper".into(), "scissors".into(), 6),
        // Equal counts keep row-major order: the rock row comes before the scissors row.
        ("rock".into(), "paper".into(), 2),
        ("scissors".into(), "rock".into(), 2),
    ];
    assert_eq!(interpretation.most_confused(2), expected);
}

#[test]
fn most_confused_min_val_filters() {
    let pairs = [repeat(0, 1, 3), repeat(1, 0, 1), repeat(1, 1, 5), repeat(2, 0, 2)].concat();
    let interpretation = from_pairs(&["a", "b", "c"], &pairs);

    let counts = |min_val| -> Vec<usize> { interpretation.most_confused(min_val).iter().map(|entry| entry.2).collect() };
    assert_eq!(counts(1), vec![3, 2, 1]);
    assert_eq!(counts(2), vec![3, 2]);
    assert_eq!(counts(3), vec![3]);
    assert!(counts(4).is_empty());

    // min_val 0 lists every off-diagonal cell, zeros included, but never the diagonal.
    let all = interpretation.most_confused(0);
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|(actual, predicted, _)| actual != predicted));
    assert_eq!(all[3], ("a".to_string(), "c".to_string(), 0));
}

#[test]
fn most_confused_agrees_with_matrix() {
    let pairs = [repeat(0, 1, 2), repeat(1, 2, 4), repeat(2, 0, 1), repeat(2, 2, 3)].concat();
    let interpretation = from_pairs(&["x", "y", "z"], &pairs);
    let matrix = interpretation.confusion_matrix();
    let classes = interpretation.classes();
    for (actual, predicted, count) in interpretation.most_confused(1) {
        let row = classes.iter().position(|name| *name == actual).unwrap();
        let column = classes.iter().position(|name| *name == predicted).unwrap();
        assert_eq!(matrix[row][column], count, "{actual} -> {predicted}");
    }
}

#[test]
fn new_rejects_no_classes() {
    let result = ClassificationInterpretation::new(vec![], vec![], vec![], vec![], vec![]);
    assert!(matches!(result, Err(InterpretError::NoClasses)), "{result:?}");
}

#[test]
fn new_rejects_duplicate_class() {
    let result = ClassificationInterpretation::new(names(&["a", "b", "a"]), vec![], vec![], vec![], vec![]);
    assert!(matches!(result, Err(InterpretError::DuplicateClass { ref name }) if name == "a"), "{result:?}");
}

#[test]
fn new_rejects_length_mismatch() {
    let classes = names(&["a", "b"]);
    let probs = vec![vec![0.5, 0.5]; 2];

    let result = ClassificationInterpretation::new(classes.clone(), paths(2), probs.clone(), vec![0], vec![0.1, 0.1]);
    assert!(
        matches!(result, Err(InterpretError::LengthMismatch { field: "targets", expected: 2, found: 1 })),
        "{result:?}"
    );

    let result = ClassificationInterpretation::new(classes.clone(), paths(2), probs[..1].to_vec(), vec![0, 1], vec![0.1, 0.1]);
    assert!(matches!(result, Err(InterpretError::LengthMismatch { field: "probs", .. })), "{result:?}");

    let result = ClassificationInterpretation::new(classes, paths(2), probs, vec![0, 1], vec![0.1, 0.1, 0.1]);
    assert!(matches!(result, Err(InterpretError::LengthMismatch { field: "losses", found: 3, .. })), "{result:?}");
}

#[test]
fn new_rejects_target_out_of_range() {
    let result = ClassificationInterpretation::new(names(&["a", "b"]), paths(2), vec![vec![0.5, 0.5]; 2], vec![0, 2], vec![0.7, 0.7]);
    match result {
        Err(InterpretError::TargetOutOfRange { index, path, target, classes }) => {
            assert_eq!((index, target, classes), (1, 2, 2));
            assert_eq!(path, PathBuf::from("valid/item1.png"));
        }
        other => panic!("expected TargetOutOfRange, got {other:?}"),
    }
}

#[test]
fn new_rejects_invalid_probability_rows() {
    let cases: [(Vec<f32>, &str); 5] = [
        (vec![0.5, 0.3, 0.2], "3 entries"),
        (vec![1.2, -0.2], "entry 0 is 1.2"),
        (vec![f32::NAN, 1.0], "entry 0 is NaN"),
        (vec![0.3, 0.3], "sums to 0.6"),
        (vec![2.0, 3.0], "entry 0 is 2"),
    ];
    for (bad_row, expected_reason) in cases {
        let probs = vec![vec![0.5, 0.5], bad_row.clone()];
        let result = ClassificationInterpretation::new(names(&["a", "b"]), paths(2), probs, vec![0, 0], vec![0.7, 0.7]);
        match result {
            Err(InterpretError::InvalidProbabilities { index, reason, .. }) => {
                assert_eq!(index, 1, "row {bad_row:?}");
                assert!(reason.contains(expected_reason), "row {bad_row:?}: reason {reason:?}");
            }
            other => panic!("row {bad_row:?}: expected InvalidProbabilities, got {other:?}"),
        }
    }
}

#[test]
fn new_rejects_invalid_losses() {
    for bad_loss in [f32::NAN, -0.5] {
        let result = ClassificationInterpretation::new(names(&["a", "b"]), paths(2), vec![vec![0.5, 0.5]; 2], vec![0, 1], vec![0.7, bad_loss]);
        match result {
            Err(InterpretError::InvalidLoss { index, loss, .. }) => {
                assert_eq!(index, 1);
                assert_eq!(loss.to_bits(), bad_loss.to_bits());
            }
            other => panic!("loss {bad_loss}: expected InvalidLoss, got {other:?}"),
        }
    }
}

#[test]
fn error_message_names_item() {
    let error = ClassificationInterpretation::new(names(&["a", "b"]), paths(1), vec![vec![0.5, 0.5]], vec![5], vec![0.7]).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("valid/item0.png"), "{message}");
    assert!(message.contains("target 5"), "{message}");
}
