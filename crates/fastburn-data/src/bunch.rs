//! The DataBunch: both datasets with their transforms, and the per-image pipeline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};

use crate::scan::Item;
use crate::seed::{AUGMENT_STREAM, rng_for};
use crate::{DataError, ImageDataBunchBuilder, NormStats, Transform, apply_tfms, open_image};

/// fastai's `ImageDataBunch`: a training and a validation set of labelled images, with the
/// transforms and normalization that turn them into batches.
///
/// Build one with [`ImageDataBunch::from_folder`].
#[derive(Debug, Clone)]
pub struct ImageDataBunch {
    pub(crate) path: PathBuf,
    pub(crate) classes: Vec<String>,
    pub(crate) train: Arc<Vec<Item>>,
    pub(crate) valid: Arc<Vec<Item>>,
    pub(crate) size: usize,
    pub(crate) batch_size: usize,
    pub(crate) num_workers: usize,
    pub(crate) seed: u64,
    pub(crate) stats: Option<NormStats>,
    pub(crate) train_tfms: Arc<Vec<Transform>>,
    pub(crate) valid_tfms: Arc<Vec<Transform>>,
}

/// fastai's short name for [`ImageDataBunch`].
pub type DataBunch = ImageDataBunch;

/// The augmentation stream of validation items and single predictions; training epochs use
/// their epoch number instead.
pub(crate) const VALID_EPOCH: u64 = u64::MAX;

impl ImageDataBunch {
    /// Starts building a DataBunch from `path`, which contains `train` and `valid` subfolders of
    /// class folders (or, with `valid_pct`, class folders to split at random).
    pub fn from_folder(path: impl AsRef<Path>) -> ImageDataBunchBuilder {
        ImageDataBunchBuilder::new(path.as_ref())
    }

    /// Returns the dataset folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the class names, sorted; a label is an index into this list.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Returns the number of classes, fastai's `data.c`.
    pub fn c(&self) -> usize {
        self.classes.len()
    }

    /// Returns the number of training images.
    pub fn train_len(&self) -> usize {
        self.train.len()
    }

    /// Returns the number of validation images.
    pub fn valid_len(&self) -> usize {
        self.valid.len()
    }

    /// Returns the training images with their labels, in scan order.
    pub fn train_items(&self) -> &[Item] {
        &self.train
    }

    /// Returns the validation images with their labels, in the order batches visit them.
    pub fn valid_items(&self) -> &[Item] {
        &self.valid
    }

    /// Returns the side of the square images in a batch, in pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Returns the number of images per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Returns the number of worker threads that prepare batches.
    pub fn num_workers(&self) -> usize {
        self.num_workers
    }

    /// Returns the seed of the split, the shuffling and the augmentations.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Returns the normalization statistics, if any.
    pub fn stats(&self) -> Option<NormStats> {
        self.stats
    }

    /// Replaces the normalization statistics, as a pretrained architecture may require.
    pub fn set_normalize(&mut self, stats: NormStats) {
        self.stats = Some(stats);
    }

    /// Returns the training transforms.
    pub fn train_tfms(&self) -> &[Transform] {
        &self.train_tfms
    }

    /// Returns the validation transforms.
    pub fn valid_tfms(&self) -> &[Transform] {
        &self.valid_tfms
    }

    /// Returns the number of training batches per epoch; the last partial batch is dropped, as fastai
    /// v1 does on the training set.
    pub fn num_train_batches(&self) -> usize {
        self.train.len() / self.batch_size
    }

    /// Returns the number of validation batches, the last one possibly partial.
    pub fn num_valid_batches(&self) -> usize {
        self.valid.len().div_ceil(self.batch_size)
    }

    /// Decodes the image at `path` and prepares it as the validation set is prepared: the
    /// validation transforms, then normalization. Returns a `[1, 3, size, size]` tensor, the
    /// input `predict` needs.
    pub fn prepare_image(
        &self,
        path: impl AsRef<Path>,
        device: &Device,
    ) -> Result<Tensor<4>, DataError> {
        let pipeline = self.pipeline(false);
        let data = pipeline.process(path.as_ref(), VALID_EPOCH, 0)?;
        let shape = [1, 3, self.size, self.size];
        Ok(Tensor::from_data(TensorData::new(data, shape), device))
    }

    /// Returns the per-image pipeline of the training (`train = true`) or validation set.
    pub(crate) fn pipeline(&self, train: bool) -> Pipeline {
        let tfms = if train {
            &self.train_tfms
        } else {
            &self.valid_tfms
        };
        Pipeline {
            tfms: Arc::clone(tfms),
            size: self.size,
            stats: self.stats,
            seed: self.seed,
        }
    }
}

/// Decoding, transforms and normalization of one image; cheap to clone into worker threads.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub tfms: Arc<Vec<Transform>>,
    pub size: usize,
    pub stats: Option<NormStats>,
    pub seed: u64,
}

impl Pipeline {
    /// Returns the `[3, size, size]` samples of the image at `path`, item `index` of `epoch`.
    ///
    /// Returns the augmentations are drawn from a generator seeded with `(seed, epoch, index)`, so the
    /// result does not depend on the thread that runs it.
    pub fn process(&self, path: &Path, epoch: u64, index: usize) -> Result<Vec<f32>, DataError> {
        let mut image = self.augment(path, epoch, index)?;
        if let Some(stats) = &self.stats {
            stats.normalize(&mut image);
        }
        Ok(image)
    }

    /// Like [`Pipeline::process`] without normalization: samples on the 0..1 scale.
    pub fn augment(&self, path: &Path, epoch: u64, index: usize) -> Result<Vec<f32>, DataError> {
        let decoded = open_image(path)?;
        let mut rng = rng_for(self.seed, AUGMENT_STREAM, epoch, index as u64);
        let image = apply_tfms(&self.tfms, &decoded, Some(self.size), &mut rng);
        Ok(image.data)
    }
}
