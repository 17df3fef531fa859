//! fastburn-data's `ImageDataBunch` and fastburn-vision's `CnnModel` in a learner, and
//! `cnn_learner`.

use std::path::Path;

use burn::tensor::Device;
use fastburn_data::ImageDataBunch;
use fastburn_vision::{Arch, CnnModel, HeadConfig, VisionError, create_cnn};

use crate::{
    BatchIter, CrossEntropyLoss, DataBatch, DataSourceError, LayerGroup, Learner, LearnerData,
    LearnerError, LearnerModel, Metric,
};

/// A learner over a CNN and an image folder, what `cnn_learner` returns.
pub type CnnLearner = Learner<CnnModel, ImageDataBunch>;

/// The architecture and final head configuration, kept for `export`.
#[derive(Debug, Clone)]
pub(crate) struct CnnInfo {
    pub arch: Arch,
    pub head: HeadConfig,
}

impl LearnerData for ImageDataBunch {
    fn classes(&self) -> Vec<String> {
        ImageDataBunch::classes(self).to_vec()
    }

    fn num_train_batches(&self) -> usize {
        ImageDataBunch::num_train_batches(self)
    }

    fn num_valid_batches(&self) -> usize {
        ImageDataBunch::num_valid_batches(self)
    }

    fn train_batches(&self, epoch: usize, device: &Device) -> BatchIter<'_> {
        Box::new(ImageDataBunch::train_batches(self, epoch, device).map(convert_batch))
    }

    fn valid_batches(&self, device: &Device) -> BatchIter<'_> {
        Box::new(ImageDataBunch::valid_batches(self, device).map(convert_batch))
    }
}

fn convert_batch(
    batch: Result<fastburn_data::Batch, fastburn_data::DataError>,
) -> Result<DataBatch, DataSourceError> {
    match batch {
        Ok(batch) => Ok(DataBatch {
            images: batch.images,
            targets: batch.targets,
        }),
        Err(error) => Err(Box::new(error)),
    }
}

impl LearnerModel for CnnModel {
    fn forward(&self, images: burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2> {
        CnnModel::forward(self, images)
    }

    fn layer_groups(&self) -> Vec<LayerGroup> {
        CnnModel::layer_groups(self)
            .into_iter()
            .map(|group| LayerGroup {
                name: group.name,
                params: group.params,
                batch_norm_params: group.batch_norm_params,
            })
            .collect()
    }
}

/// Builds `arch`'s body with the weights at `pretrained`, a fresh `head` for the data's
/// classes, and a learner with cross-entropy loss (fastai's `cnn_learner`).
///
/// With pretrained weights the body is frozen, as in fastai. When the data has no
/// normalization yet, the statistics the weights expect (`arch.norm_stats()`) are set on it.
pub fn cnn_learner(
    mut data: ImageDataBunch,
    arch: Arch,
    pretrained: Option<&Path>,
    head: &HeadConfig,
    metrics: Vec<Box<dyn Metric>>,
    device: &Device,
) -> Result<CnnLearner, LearnerError> {
    let n_classes = data.c();
    let model = create_cnn(arch, n_classes, pretrained, head, device).map_err(|error| match error {
        VisionError::Weights(error) => LearnerError::invalid(
            "pretrained",
            format!("cannot load {} weights: {error}", arch.name()),
        ),
        VisionError::Head(error) => LearnerError::invalid("head", error.to_string()),
        other => LearnerError::invalid("arch", format!("building {} failed: {other}", arch.name())),
    })?;

    if data.stats().is_none() {
        log::info!("normalizing the data with {}'s statistics", arch.name());
        data.set_normalize(arch.norm_stats());
    }

    // `create_cnn` replaces these two fields; export stores what was built.
    let pooled = if head.concat_pool { 2 } else { 1 } * arch.body_channels();
    let head = HeadConfig {
        nf: pooled,
        n_classes,
        ..head.clone()
    };

    let path = data.path().to_path_buf();
    let mut learner = Learner::new(data, model, CrossEntropyLoss, metrics)?.with_path(path);
    learner.cnn_info = Some(CnnInfo { arch, head });
    if pretrained.is_some() {
        learner.freeze();
    }
    Ok(learner)
}
