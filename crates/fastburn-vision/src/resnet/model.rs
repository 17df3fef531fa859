//! The ResNet network and its body (the network cut before average pooling).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

use super::block::{Block, batch_norm, conv};
use crate::conv::{Activation, conv_bn};

/// A ResNet with torchvision's field names, so a torchvision `state_dict` maps one to one
/// (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`, ...).
#[derive(Module, Debug)]
pub struct ResNet {
    /// 7x7 stride-2 stem convolution.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3x3 stride-2 max pooling after the stem.
    pub maxpool: MaxPool2d,
    /// Stage 1 blocks (64 planes, stride 1).
    pub layer1: Vec<Block>,
    /// Stage 2 blocks (128 planes, stride 2).
    pub layer2: Vec<Block>,
    /// Stage 3 blocks (256 planes, stride 2).
    pub layer3: Vec<Block>,
    /// Stage 4 blocks (512 planes, stride 2).
    pub layer4: Vec<Block>,
    /// The ImageNet classifier.
    pub fc: Linear,
}

/// A ResNet without its average pooling and classifier: what fastai calls the body.
#[derive(Module, Debug)]
pub struct ResNetBody {
    /// 7x7 stride-2 stem convolution.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3x3 stride-2 max pooling after the stem.
    pub maxpool: MaxPool2d,
    /// Stage 1 blocks.
    pub layer1: Vec<Block>,
    /// Stage 2 blocks.
    pub layer2: Vec<Block>,
    /// Stage 3 blocks.
    pub layer3: Vec<Block>,
    /// Stage 4 blocks.
    pub layer4: Vec<Block>,
}

impl ResNet {
    pub(crate) fn from_stages(
        stages: Vec<Vec<Block>>,
        channels: usize,
        num_classes: usize,
        device: &Device,
    ) -> Self {
        let [layer1, layer2, layer3, layer4]: [Vec<Block>; 4] =
            stages.try_into().expect("a ResNet has four stages");

        Self {
            conv1: conv(3, 64, 7, 2, device),
            bn1: batch_norm(64, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: LinearConfig::new(channels, num_classes).init(device),
        }
    }

    /// Runs the body: `[batch, 3, H, W]` to `[batch, channels, H/32, W/32]`.
    pub fn forward_features(&self, input: Tensor<4>) -> Tensor<4> {
        let layers = [&self.layer1, &self.layer2, &self.layer3, &self.layer4];
        forward_body(&self.conv1, &self.bn1, &self.maxpool, layers, input)
    }

    /// Runs the whole network: features, global average pooling and `fc`, giving logits.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        let features = adaptive_avg_pool2d(self.forward_features(input), [1, 1]);
        self.fc.forward(features.flatten(1, 3))
    }

    /// Drops the classifier, keeping the body.
    pub fn into_body(self) -> ResNetBody {
        ResNetBody {
            conv1: self.conv1,
            bn1: self.bn1,
            maxpool: self.maxpool,
            layer1: self.layer1,
            layer2: self.layer2,
            layer3: self.layer3,
            layer4: self.layer4,
        }
    }
}

impl ResNetBody {
    /// Runs the body: `[batch, 3, H, W]` to `[batch, channels, H/32, W/32]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let layers = [&self.layer1, &self.layer2, &self.layer3, &self.layer4];
        forward_body(&self.conv1, &self.bn1, &self.maxpool, layers, input)
    }
}

fn forward_body(
    conv1: &Conv2d,
    bn1: &BatchNorm,
    maxpool: &MaxPool2d,
    layers: [&Vec<Block>; 4],
    input: Tensor<4>,
) -> Tensor<4> {
    let dtype = input.dtype();
    let stem = conv_bn(conv1, bn1, input, None, Activation::Relu);
    let mut x = crate::pool::max_pool2d(maxpool, stem);

    for stage in layers {
        for block in stage {
            x = block.forward(x);
        }
    }

    // Under a half-precision autocast on LibTorch, `conv_bn` passes half-precision
    // activations from layer to layer; the features leave in the input's dtype.
    x.cast(dtype)
}
