//! fastai's `cnn_learner` model: a pretrained body and a new head.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::arch::Arch;
use crate::efficientnet::{EfficientNetError, EfficientNetLite, EfficientNetLiteConfig};
use crate::head::{Head, HeadConfig, HeadConfigError};
use crate::layer_groups::LayerGroup;
use crate::resnet::{ResNetBody, ResNetConfig, resnet_tensors};
use crate::weights::{WeightsError, apply};

/// The backbone cut before average pooling. An enum so other architectures can be added
/// as variants; Burn leaves the variant name out of the PyTorch names weights load by.
#[derive(Module, Debug)]
pub enum Body {
    /// A torchvision ResNet body.
    ResNet(ResNetBody),
    /// EfficientNet-Lite0 without its classifier `_fc`.
    EfficientNetLite(EfficientNetLite),
}

impl Body {
    /// Runs the body: images `[batch, 3, H, W]` to features `[batch, channels, h, w]` in the
    /// images' dtype.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Body::ResNet(body) => body.forward(images),
            Body::EfficientNetLite(body) => body.forward_features(images),
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
    /// The EfficientNet configuration is invalid.
    #[error(transparent)]
    EfficientNet(#[from] EfficientNetError),
}

impl CnnModel {
    /// Maps images to logits `[batch, n_classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.body.forward(images))
    }

    /// fastai's split of a ResNet: the body up to `layer2`, `layer3` and `layer4`, then the
    /// head. An EfficientNet-Lite body splits in the middle of its MBConv blocks instead.
    /// Every trainable parameter is in exactly one group.
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
            Body::EfficientNetLite(body) => body.layer_groups().into(),
        };

        let mut head = LayerGroup::new("head");
        head.add(&self.head);
        groups.push(head);
        groups
    }
}

/// Builds `arch`'s body, loads its weights from `pretrained` (dropping the ImageNet
/// classifier) and adds a fresh head for `n_classes`, as fastai's `cnn_learner` does.
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
    // `resnet_config` is `None` only for EfficientNet-Lite0.
    let body = match arch.resnet_config() {
        Some(config) => Body::ResNet(resnet_body(&config, pretrained, device)?),
        None => Body::EfficientNetLite(efficientnet_lite0_body(pretrained, device)?),
    };

    let pooled = if head.concat_pool { 2 } else { 1 } * arch.body_channels();
    let head = HeadConfig {
        nf: pooled,
        n_classes,
        ..head.clone()
    }
    .init(device)?;

    Ok(CnnModel { body, head })
}

/// Builds a ResNet body, loading `pretrained` without its ImageNet classifier `fc`.
fn resnet_body(
    config: &ResNetConfig,
    pretrained: Option<&Path>,
    device: &Device,
) -> Result<ResNetBody, VisionError> {
    let mut body = config.init(device).into_body();

    if let Some(path) = pretrained {
        let mut tensors = resnet_tensors(path, config)?;
        tensors.retain(|name| !name.starts_with("fc."));
        body = apply(body, &tensors, &path.display().to_string())?;
    }

    Ok(body)
}

/// Builds an EfficientNet-Lite0 body, loading `pretrained` without its classifier `_fc`.
fn efficientnet_lite0_body(
    pretrained: Option<&Path>,
    device: &Device,
) -> Result<EfficientNetLite, VisionError> {
    let mut body = EfficientNetLiteConfig::new()
        .with_num_classes(None)
        .init(device)?;

    if let Some(path) = pretrained {
        body = body.load_file(path)?;
    }

    Ok(body)
}
