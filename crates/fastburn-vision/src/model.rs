//! fastai's `cnn_learner` model: a pretrained body and a new head.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::arch::Arch;
use crate::head::{Head, HeadConfig, HeadConfigError};
use crate::layer_groups::LayerGroup;
use crate::resnet::{ResNetBody, resnet_tensors};
use crate::weights::{WeightsError, apply};

/// The backbone cut before average pooling. An enum so other architectures can be added
/// as variants; Burn leaves the variant name out of the PyTorch names weights load by.
#[derive(Module, Debug)]
pub enum Body {
    /// A torchvision ResNet body.
    ResNet(ResNetBody),
}

impl Body {
    /// Runs the body: images `[batch, 3, H, W]` to features `[batch, channels, h, w]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Body::ResNet(body) => body.forward(images),
        }
    }
}

/// A body and a head, as fastai's `create_cnn_model` builds them.
#[derive(Module, Debug)]
pub struct CnnModel {
    /// The pretrained backbone.
    pub body: Body,
    /// The new classifier.
    pub head: Head,
}

/// Error from building a [`CnnModel`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisionError {
    /// The pretrained weights could not be read or do not fit the body.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The head configuration is invalid.
    #[error(transparent)]
    Head(#[from] HeadConfigError),
}

impl CnnModel {
    /// Maps images to logits `[batch, n_classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.body.forward(images))
    }

    /// fastai's split of a ResNet: the body up to `layer2`, `layer3` and `layer4`, then the
    /// head. Every trainable parameter is in exactly one group.
    pub fn layer_groups(&self) -> Vec<LayerGroup> {
        let mut groups = match &self.body {
            Body::ResNet(body) => {
                let mut early = LayerGroup::new("body: conv1..layer2");
                early.add(&body.conv1);
                early.add(&body.bn1);
                early.add(&body.layer1);
                early.add(&body.layer2);

                let mut late = LayerGroup::new("body: layer3..layer4");
                late.add(&body.layer3);
                late.add(&body.layer4);
                vec![early, late]
            }
        };

        let mut head = LayerGroup::new("head");
        head.add(&self.head);
        groups.push(head);
        groups
    }
}

/// Builds `arch`'s body, loads its weights from `pretrained` (dropping the ImageNet
/// classifier `fc`) and adds a fresh head for `n_classes`, as fastai's `cnn_learner` does.
///
/// `head`'s `nf` and `n_classes` are replaced by the values the body and `n_classes`
/// require. Without `pretrained`, the body keeps torchvision's random initialisation.
pub fn create_cnn(
    arch: Arch,
    n_classes: usize,
    pretrained: Option<&Path>,
    head: &HeadConfig,
    device: &Device,
) -> Result<CnnModel, VisionError> {
    let config = arch.resnet_config();
    let mut body = config.init(device).into_body();

    if let Some(path) = pretrained {
        let mut tensors = resnet_tensors(path, &config)?;
        tensors.retain(|name| !name.starts_with("fc."));
        body = apply(body, &tensors, &path.display().to_string())?;
    }

    let pooled = if head.concat_pool { 2 } else { 1 } * config.body_channels();
    let head = HeadConfig {
        nf: pooled,
        n_classes,
        ..head.clone()
    }
    .init(device)?;

    Ok(CnnModel {
        body: Body::ResNet(body),
        head,
    })
}
