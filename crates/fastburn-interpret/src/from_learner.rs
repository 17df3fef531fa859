//! `ClassificationInterpretation::from_learner`: predictions of a trained learner on its
//! validation set.

use std::path::PathBuf;

use fastburn_data::ImageDataBunch;
use fastburn_learner::{Learner, LearnerData, LearnerModel};

use crate::{ClassificationInterpretation, InterpretError};

/// A data set whose validation items are image files, listed in the order in which
/// [`LearnerData::valid_batches`] yields them.
pub trait ValidItems {
    /// Returns the image file and class index of each validation item, in batch order.
    fn valid_item_files(&self) -> Vec<(PathBuf, usize)>;
}

impl ValidItems for ImageDataBunch {
    fn valid_item_files(&self) -> Vec<(PathBuf, usize)> {
        self.valid_items().iter().map(|item| (item.path.clone(), item.label)).collect()
    }
}

impl ClassificationInterpretation {
    /// Runs `learner` once over its validation set and interprets the predictions, as fastai
    /// v1's `ClassificationInterpretation.from_learner` does with `DatasetType.Valid`.
    ///
    /// # Errors
    /// - [`InterpretError::Learner`] when prediction fails;
    /// - [`InterpretError::TargetMismatch`] when the targets of the predictions differ from the
    ///   labels of the data set's items, which means the items are not in batch order;
    /// - the errors of [`ClassificationInterpretation::new`] for inconsistent predictions.
    pub fn from_learner<M, D>(learner: &Learner<M, D>) -> Result<Self, InterpretError>
    where
        M: LearnerModel,
        D: LearnerData + ValidItems,
    {
        let preds = learner.get_preds()?;
        let classes = learner.data().classes();
        let files = learner.data().valid_item_files();

        if files.len() != preds.targets.len() {
            return Err(InterpretError::LengthMismatch {
                field: "targets",
                expected: files.len(),
                found: preds.targets.len(),
            });
        }

        // Each prediction is matched to a file only by position, so the labels are the check
        // that both lists are in the same order.
        for (index, ((path, label), &target)) in files.iter().zip(&preds.targets).enumerate() {
            if *label != target {
                return Err(InterpretError::TargetMismatch { index, path: path.clone(), label: *label, target });
            }
        }

        let items = files.into_iter().map(|(path, _)| path).collect();
        Self::new(classes, items, preds.probs, preds.targets, preds.losses)
    }
}
