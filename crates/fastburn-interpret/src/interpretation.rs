//! `ClassificationInterpretation`: predictions on the validation set and the statistics fastai
//! derives from them.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::path::PathBuf;

use crate::InterpretError;

/// Largest distance of a probability row's sum from 1 that is accepted. Softmax rows computed in
/// `f32` are off by far less; anything beyond this is not a probability distribution.
const PROBABILITY_SUM_TOLERANCE: f32 = 1e-3;

/// Slack allowed on each probability beyond 0..=1, for rounding in the softmax.
const PROBABILITY_VALUE_TOLERANCE: f32 = 1e-5;

/// One entry of [`ClassificationInterpretation::top_losses`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopLoss {
    /// The item's loss.
    pub loss: f32,
    /// Position of the item in the validation set.
    pub index: usize,
}

/// Predictions of a classifier on its validation set, with the analyses of fastai v1's
/// `ClassificationInterpretation`: the items with the largest losses, the confusion matrix and
/// the most frequent confusions, and plots of the first two.
#[derive(Debug, Clone)]
pub struct ClassificationInterpretation {
    classes: Vec<String>,
    items: Vec<PathBuf>,
    probs: Vec<Vec<f32>>,
    preds: Vec<usize>,
    targets: Vec<usize>,
    losses: Vec<f32>,
}

impl ClassificationInterpretation {
    /// Builds an interpretation from per-item predictions, after checking that they are
    /// consistent.
    ///
    /// `items[i]` is the image file of validation item `i`, `probs[i]` its predicted probability
    /// for each class (a softmax row), `targets[i]` its actual class index and `losses[i]` its
    /// loss. The predicted class of each item is the argmax of its row, the first one on ties.
    ///
    /// # Errors
    /// [`InterpretError`] naming the first item or field that is inconsistent: no classes, a
    /// duplicate class name, vectors of different lengths, a target out of range, a probability
    /// row of the wrong length, with a value outside 0..=1 or a sum away from 1, or a loss that is
    /// NaN or negative.
    pub fn new(
        classes: Vec<String>,
        items: Vec<PathBuf>,
        probs: Vec<Vec<f32>>,
        targets: Vec<usize>,
        losses: Vec<f32>,
    ) -> Result<Self, InterpretError> {
        check_classes(&classes)?;

        let expected = items.len();
        for (field, found) in [("probs", probs.len()), ("targets", targets.len()), ("losses", losses.len())] {
            if found != expected {
                return Err(InterpretError::LengthMismatch { field, expected, found });
            }
        }

        for (index, path) in items.iter().enumerate() {
            let target = targets[index];
            if target >= classes.len() {
                return Err(InterpretError::TargetOutOfRange {
                    index,
                    path: path.clone(),
                    target,
                    classes: classes.len(),
                });
            }

            if let Err(reason) = check_probability_row(&probs[index], classes.len()) {
                return Err(InterpretError::InvalidProbabilities { index, path: path.clone(), reason });
            }

            // Cross-entropy is never negative, and a NaN would make the loss ordering meaningless.
            // An infinite loss (probability 0 for the actual class) is kept: it is the largest loss.
            let loss = losses[index];
            if loss.is_nan() || loss < 0.0 {
                return Err(InterpretError::InvalidLoss { index, path: path.clone(), loss });
            }
        }

        let preds = probs.iter().map(|row| argmax(row)).collect();
        Ok(Self { classes, items, probs, preds, targets, losses })
    }

    /// Class names, in the order of the probability columns.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Image file of each validation item.
    pub fn items(&self) -> &[PathBuf] {
        &self.items
    }

    /// Predicted probability of each class, one row per item.
    pub fn probs(&self) -> &[Vec<f32>] {
        &self.probs
    }

    /// Predicted class index of each item (argmax of its probability row).
    pub fn preds(&self) -> &[usize] {
        &self.preds
    }

    /// Actual class index of each item.
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }

    /// Loss of each item.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }

    /// Number of validation items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Returns `true` when there are no validation items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Fraction of items whose predicted class is the actual class, or `None` without items.
    pub fn accuracy(&self) -> Option<f32> {
        if self.is_empty() {
            return None;
        }
        let correct = self.preds.iter().zip(&self.targets).filter(|(pred, target)| pred == target).count();
        Some(correct as f32 / self.len() as f32)
    }

    /// Returns the `k` largest losses with their item indices, largest first; all items when `k`
    /// is `None` or larger than the number of items.
    ///
    /// Equal losses keep the order of the validation set, so the result is deterministic (fastai
    /// uses `torch.topk`, whose order on ties is unspecified).
    pub fn top_losses(&self, k: Option<usize>) -> Vec<TopLoss> {
        let mut order: Vec<usize> = (0..self.len()).collect();

        // `sort_by` is stable, which keeps ties in index order. Losses are never NaN (checked in
        // `new`), so `partial_cmp` only returns `None` for nothing.
        order.sort_by(|&a, &b| self.losses[b].partial_cmp(&self.losses[a]).unwrap_or(Ordering::Equal));

        let k = k.unwrap_or(self.len()).min(self.len());
        order.truncate(k);
        order.into_iter().map(|index| TopLoss { loss: self.losses[index], index }).collect()
    }

    /// Counts items by actual class (rows) and predicted class (columns): a c×c matrix whose
    /// diagonal contains the correct predictions.
    pub fn confusion_matrix(&self) -> Vec<Vec<usize>> {
        let classes = self.classes.len();
        let mut matrix = vec![vec![0; classes]; classes];
        for (&actual, &predicted) in self.targets.iter().zip(&self.preds) {
            matrix[actual][predicted] += 1;
        }
        matrix
    }

    /// Lists the off-diagonal cells of the confusion matrix with at least `min_val` items as
    /// `(actual, predicted, count)`, largest count first.
    ///
    /// Equal counts keep the row-major order of the matrix, as fastai v1 does (it sorts the
    /// `np.where` cells with Python's stable sort). Unlike fastai, the diagonal is never listed,
    /// even with `min_val` 0: fastai zeroes it and then lists it as zero counts.
    pub fn most_confused(&self, min_val: usize) -> Vec<(String, String, usize)> {
        let matrix = self.confusion_matrix();
        let mut confusions = Vec::new();
        for (actual, row) in matrix.iter().enumerate() {
            for (predicted, &count) in row.iter().enumerate() {
                if actual != predicted && count >= min_val {
                    confusions.push((self.classes[actual].clone(), self.classes[predicted].clone(), count));
                }
            }
        }

        confusions.sort_by(|a, b| b.2.cmp(&a.2));
        confusions
    }
}

/// Rejects an empty class list and repeated class names.
fn check_classes(classes: &[String]) -> Result<(), InterpretError> {
    if classes.is_empty() {
        return Err(InterpretError::NoClasses);
    }
    let mut seen = HashSet::new();
    for name in classes {
        if !seen.insert(name.as_str()) {
            return Err(InterpretError::DuplicateClass { name: name.clone() });
        }
    }
    Ok(())
}

/// Checks that `row` is a probability distribution over `classes` classes, and returns the
/// reason when it is not.
fn check_probability_row(row: &[f32], classes: usize) -> Result<(), String> {
    if row.len() != classes {
        return Err(format!("it has {} entries but there are {classes} classes", row.len()));
    }

    let valid_range = -PROBABILITY_VALUE_TOLERANCE..=1.0 + PROBABILITY_VALUE_TOLERANCE;
    if let Some((class, value)) = row.iter().enumerate().find(|(_, value)| !valid_range.contains(*value)) {
        return Err(format!("entry {class} is {value}, outside 0..=1"));
    }

    let sum: f32 = row.iter().sum();
    if (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
        return Err(format!("it sums to {sum}, not 1 (expected softmax probabilities)"));
    }
    Ok(())
}

/// Index of the largest value, the first one on ties, as `torch.argmax` returns in practice.
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (index, &value) in row.iter().enumerate() {
        if value > row[best] {
            best = index;
        }
    }
    best
}
