//! The data-source interface of the learner.

use burn::tensor::{Device, Int, Tensor};

/// One mini-batch of images and their class indices.
#[derive(Debug, Clone)]
pub struct DataBatch {
    /// Images, `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// Class index of each image, `[batch]`.
    pub targets: Tensor<1, Int>,
}

/// The error type data sources report; the learner wraps its message.
pub type DataSourceError = Box<dyn std::error::Error + Send + Sync>;

/// An iterator over batches that may fail.
pub type BatchIter<'a> = Box<dyn Iterator<Item = Result<DataBatch, DataSourceError>> + 'a>;

/// A labelled image data set split into training and validation batches.
///
/// Implemented for fastburn-data's `ImageDataBunch`; tests implement it over in-memory tensors.
pub trait LearnerData {
    /// Class names, indexed by target.
    fn classes(&self) -> Vec<String>;

    /// Number of training batches per epoch.
    fn num_train_batches(&self) -> usize;

    /// Number of validation batches.
    fn num_valid_batches(&self) -> usize;

    /// Returns the shuffled (and augmented) training batches of `epoch`, created on `device`.
    fn train_batches(&self, epoch: usize, device: &Device) -> BatchIter<'_>;

    /// Returns the validation batches in a fixed order, created on `device`.
    fn valid_batches(&self, device: &Device) -> BatchIter<'_>;
}
