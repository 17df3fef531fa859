//! torchvision's residual blocks: `BasicBlock` (ResNet18/34) and `Bottleneck` (ResNet50+).

use burn::module::{Initializer, Module};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use crate::conv::{Activation, conv_bn};

/// The shortcut projection, `downsample.0` (1x1 conv) and `downsample.1` (batch norm) in
/// torchvision: a tuple so that Burn numbers its fields as PyTorch's `Sequential` does.
pub type Downsample = (Conv2d, BatchNorm);

/// Two 3x3 convolutions with a residual connection (expansion 1).
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First 3x3 convolution, carrying the block's stride.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// Second 3x3 convolution.
    pub conv2: Conv2d,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm,
    /// Projection of the input when the stride or channel count changes.
    pub downsample: Option<Downsample>,
}

/// 1x1 → 3x3 → 1x1 convolutions with a residual connection (expansion 4). The stride is
/// on the 3x3 convolution, as in torchvision ("ResNet v1.5").
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1x1 reduction.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3x3 convolution, carrying the block's stride.
    pub conv2: Conv2d,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm,
    /// 1x1 expansion to `4 * planes` channels.
    pub conv3: Conv2d,
    /// Batch norm after `conv3`.
    pub bn3: BatchNorm,
    /// Projection of the input when the stride or channel count changes.
    pub downsample: Option<Downsample>,
}

/// A residual block of either kind. Burn leaves enum variant names out of the PyTorch
/// names [`crate::weights::apply`] matches, so `layer1.0.conv1` stays as torchvision has it.
#[derive(Module, Debug)]
pub enum Block {
    /// ResNet18/34 block.
    Basic(BasicBlock),
    /// ResNet50/101/152 block.
    Bottleneck(Bottleneck),
}

impl Block {
    /// Runs the block on `[batch, channels, height, width]` input.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        match self {
            Block::Basic(block) => block.forward(input),
            Block::Bottleneck(block) => block.forward(input),
        }
    }
}

impl BasicBlock {
    /// Creates a block mapping `in_channels` to `planes` channels with `stride`.
    pub fn new(in_channels: usize, planes: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: conv(in_channels, planes, 3, stride, device),
            bn1: batch_norm(planes, device),
            conv2: conv(planes, planes, 3, 1, device),
            bn2: batch_norm(planes, device),
            downsample: downsample(in_channels, planes, stride, device),
        }
    }

    /// Runs the block.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let out = conv_bn(
            &self.conv1,
            &self.bn1,
            input.clone(),
            None,
            Activation::Relu,
        );
        let identity = shortcut(&self.downsample, input);
        conv_bn(
            &self.conv2,
            &self.bn2,
            out,
            Some(identity),
            Activation::Relu,
        )
    }
}

impl Bottleneck {
    /// Channel multiplier from `planes` to the block's output.
    pub const EXPANSION: usize = 4;

    /// Creates a block mapping `in_channels` to `4 * planes` channels with `stride`.
    pub fn new(in_channels: usize, planes: usize, stride: usize, device: &Device) -> Self {
        let out_channels = planes * Self::EXPANSION;
        Self {
            conv1: conv(in_channels, planes, 1, 1, device),
            bn1: batch_norm(planes, device),
            conv2: conv(planes, planes, 3, stride, device),
            bn2: batch_norm(planes, device),
            conv3: conv(planes, out_channels, 1, 1, device),
            bn3: batch_norm(out_channels, device),
            downsample: downsample(in_channels, out_channels, stride, device),
        }
    }

    /// Runs the block.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let out = conv_bn(
            &self.conv1,
            &self.bn1,
            input.clone(),
            None,
            Activation::Relu,
        );
        let out = conv_bn(&self.conv2, &self.bn2, out, None, Activation::Relu);
        let identity = shortcut(&self.downsample, input);
        conv_bn(
            &self.conv3,
            &self.bn3,
            out,
            Some(identity),
            Activation::Relu,
        )
    }
}

fn shortcut(downsample: &Option<Downsample>, input: Tensor<4>) -> Tensor<4> {
    match downsample {
        Some((layer, bn)) => conv_bn(layer, bn, input, None, Activation::Identity),
        None => input,
    }
}

fn downsample(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    device: &Device,
) -> Option<Downsample> {
    (stride != 1 || in_channels != out_channels).then(|| {
        (
            conv(in_channels, out_channels, 1, stride, device),
            batch_norm(out_channels, device),
        )
    })
}

/// Creates a bias-free convolution with "same"-style padding `kernel / 2`, initialised as
/// torchvision does (Kaiming normal, fan-out, ReLU gain).
pub(crate) fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    device: &Device,
) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device)
}

/// Creates a batch norm with PyTorch's defaults: epsilon 1e-5, momentum 0.1. Burn 0.22.1 updates
/// running statistics as `(1 - momentum) * running + momentum * batch`, PyTorch's convention.
// NOTE: Burn 0.22.1 feeds the biased batch variance into `running_var` where PyTorch uses
// the unbiased one, a factor n / (n - 1) with n = batch * height * width per channel,
// negligible in the body but about 1.6% for a head batch norm at batch size 64.
pub(crate) fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}
