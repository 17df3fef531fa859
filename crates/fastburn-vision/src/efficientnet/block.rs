//! The MBConv block: inverted residual with a depthwise convolution and no squeeze-excite.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use crate::conv::{Activation, conv_bn};

use super::config::{BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM};
use super::drop_connect::{DropConnect, DropConnectConfig};
use super::error::EfficientNetError;

/// Configuration of one [`MbConvBlock`].
#[derive(Config, Debug)]
pub struct MbConvBlockConfig {
    /// Channels entering the block.
    pub input_channels: usize,
    /// Channels leaving the block.
    pub output_channels: usize,
    /// Side of the square depthwise kernel.
    pub kernel_size: usize,
    /// Stride of the depthwise convolution.
    pub stride: usize,
    /// Ratio of the expanded channels to `input_channels`. A ratio of 1 means no expansion
    /// convolution.
    pub expand_ratio: usize,
    /// Probability of dropping the residual branch of a sample in training.
    #[config(default = 0.0)]
    pub drop_connect_rate: f64,
}

/// Mobile inverted bottleneck block (MBConv) of EfficientNet-Lite.
///
/// `1×1 expand → BN → ReLU6 → k×k depthwise → BN → ReLU6 → 1×1 project → BN`, plus the input
/// when the block keeps both stride 1 and its channel count. Field names follow the keys of the
/// common PyTorch EfficientNet port, so its checkpoints load without renaming.
#[derive(Module, Debug)]
pub struct MbConvBlock {
    /// Pointwise expansion to `input_channels * expand_ratio`, absent when the ratio is 1.
    pub _expand_conv: Option<Conv2d>,
    /// Batch norm after the expansion, absent when the expansion is.
    pub _bn0: Option<BatchNorm>,
    /// Depthwise convolution, one group per channel, with "SAME" padding.
    pub _depthwise_conv: Conv2d,
    /// Batch norm after the depthwise convolution.
    pub _bn1: BatchNorm,
    /// Pointwise projection to `output_channels`, with no activation after it.
    pub _project_conv: Conv2d,
    /// Batch norm after the projection.
    pub _bn2: BatchNorm,
    /// Drop connect on the residual branch, used only when the block has a residual.
    pub drop_connect: DropConnect,
    /// Whether the input is added to the output.
    pub residual: bool,
}

impl MbConvBlockConfig {
    /// Builds the block with freshly initialized weights, or fails on an invalid drop-connect rate.
    pub fn init(&self, device: &Device) -> Result<MbConvBlock, EfficientNetError> {
        let expanded = self.input_channels * self.expand_ratio;

        let (expand_conv, bn0) = match self.expand_ratio {
            1 => (None, None),
            _ => (
                Some(pointwise_conv(self.input_channels, expanded, device)),
                Some(batch_norm(expanded, device)),
            ),
        };

        // NOTE: Burn 0.22.1 computes `Same` padding like TensorFlow, from the input size at
        // each call, with the odd pixel at the bottom/right for stride 2.
        let depthwise_conv = Conv2dConfig::new([expanded, expanded], [self.kernel_size; 2])
            .with_stride([self.stride; 2])
            .with_groups(expanded)
            .with_padding(PaddingConfig2d::Same)
            .with_bias(false)
            .init(device);

        Ok(MbConvBlock {
            _expand_conv: expand_conv,
            _bn0: bn0,
            _depthwise_conv: depthwise_conv,
            _bn1: batch_norm(expanded, device),
            _project_conv: pointwise_conv(expanded, self.output_channels, device),
            _bn2: batch_norm(self.output_channels, device),
            drop_connect: DropConnectConfig::new(self.drop_connect_rate).init()?,
            residual: self.stride == 1 && self.input_channels == self.output_channels,
        })
    }
}

impl MbConvBlock {
    /// Runs the block on `[batch, input_channels, height, width]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();

        if let (Some(expand), Some(bn)) = (&self._expand_conv, &self._bn0) {
            x = conv_bn(expand, bn, x, None, Activation::Relu6);
        }

        x = conv_bn(
            &self._depthwise_conv,
            &self._bn1,
            x,
            None,
            Activation::Relu6,
        );
        x = conv_bn(
            &self._project_conv,
            &self._bn2,
            x,
            None,
            Activation::Identity,
        );

        match self.residual {
            true => self.drop_connect.forward(x) + input,
            false => x,
        }
    }
}

/// Builds a 1×1 convolution without bias, as every pointwise convolution of the network is.
pub(crate) fn pointwise_conv(input: usize, output: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([input, output], [1, 1])
        .with_bias(false)
        .init(device)
}

/// Builds a batch norm with the TensorFlow reference model's epsilon and momentum.
pub(crate) fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(BATCH_NORM_EPSILON)
        .with_momentum(BATCH_NORM_MOMENTUM)
        .init(device)
}
