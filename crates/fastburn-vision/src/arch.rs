//! The pretrained architectures `create_cnn` can build, with their torchvision files.

use fastburn_data::{IMAGENET_STATS, NormStats};

use crate::resnet::ResNetConfig;

/// A backbone architecture with ImageNet weights available from torchvision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// torchvision `resnet18`.
    ResNet18,
    /// torchvision `resnet34`, the notebook's backbone.
    ResNet34,
    /// torchvision `resnet50`.
    ResNet50,
}

impl Arch {
    /// torchvision's function name (`resnet34`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::ResNet18 => "resnet18",
            Arch::ResNet34 => "resnet34",
            Arch::ResNet50 => "resnet50",
        }
    }

    /// The normalisation the pretrained weights expect: ImageNet statistics.
    pub fn norm_stats(self) -> NormStats {
        IMAGENET_STATS
    }

    /// Channels of the body's output.
    pub fn body_channels(self) -> usize {
        self.resnet_config().body_channels()
    }

    /// The network's configuration, with torchvision's 1000 ImageNet classes.
    pub fn resnet_config(self) -> ResNetConfig {
        match self {
            Arch::ResNet18 => ResNetConfig::resnet18(),
            Arch::ResNet34 => ResNetConfig::resnet34(),
            Arch::ResNet50 => ResNetConfig::resnet50(),
        }
    }

    /// torchvision's ImageNet weight file names (the `IMAGENET1K_V1` weights), current name
    /// first, then the name torchvision used before 0.13 (`resnet34-333f7ec4.pth` is what
    /// fastai v1 downloaded). The hex part is a prefix of the file's SHA-256.
    // NOTE: only the two resnet34 names were checked against a real file here; the others
    // are torchvision's names as recalled, so a missing file errors rather than loading.
    pub fn weight_file_names(self) -> &'static [&'static str] {
        match self {
            Arch::ResNet18 => &["resnet18-f37072fd.pth", "resnet18-5c106cde.pth"],
            Arch::ResNet34 => &["resnet34-b627a593.pth", "resnet34-333f7ec4.pth"],
            Arch::ResNet50 => &["resnet50-0676ba61.pth", "resnet50-19c8e357.pth"],
        }
    }

    /// Where torchvision downloads the first of [`weight_file_names`](Self::weight_file_names).
    pub fn weight_url(self) -> String {
        format!(
            "https://download.pytorch.org/models/{}",
            self.weight_file_names()[0]
        )
    }
}
