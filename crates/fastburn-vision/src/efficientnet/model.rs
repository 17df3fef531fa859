//! The EfficientNet-Lite0 network: stem, MBConv blocks, head convolution and classifier.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use crate::conv::{Activation, conv_bn};

use super::block::{MbConvBlock, batch_norm, pointwise_conv};
use super::config::{EfficientNetLiteConfig, HEAD_CHANNELS, LITE0_STAGES, STEM_CHANNELS};
use super::error::{EfficientNetError, check_probability};

/// EfficientNet-Lite0: EfficientNet-B0 with ReLU6 and without squeeze-and-excitation.
///
/// Field names are the keys of the common PyTorch EfficientNet port (`_conv_stem`, `_bn0`,
/// `_blocks.N.…`, `_conv_head`, `_bn1`, `_fc`), so its state dicts load without renaming.
/// Inputs are expected normalized as `(x - 127) / 128` on the 0..255 scale.
#[derive(Module, Debug)]
pub struct EfficientNetLite {
    /// 3×3 stride-2 stem convolution to 32 channels, with "SAME" padding.
    pub _conv_stem: Conv2d,
    /// Batch norm after the stem.
    pub _bn0: BatchNorm,
    /// The 16 MBConv blocks.
    pub _blocks: Vec<MbConvBlock>,
    /// 1×1 head convolution to 1280 channels.
    pub _conv_head: Conv2d,
    /// Batch norm after the head convolution.
    pub _bn1: BatchNorm,
    /// Dropout before the classifier, active in training only.
    pub dropout: Dropout,
    /// ImageNet classifier on the pooled 1280 features, or `None` for a body without classifier.
    pub _fc: Option<Linear>,
}

impl EfficientNetLite {
    /// Builds the network described by `config` with freshly initialized weights.
    pub(crate) fn new(
        config: &EfficientNetLiteConfig,
        device: &Device,
    ) -> Result<Self, EfficientNetError> {
        let dropout = check_probability("dropout", config.dropout)?;
        check_probability("drop connect rate", config.drop_connect_rate)?;

        let stem = Conv2dConfig::new([3, STEM_CHANNELS], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Same)
            .with_bias(false)
            .init(device);

        let blocks = config
            .block_configs()
            .iter()
            .map(|block| block.init(device))
            .collect::<Result<Vec<_>, _>>()?;

        let last_channels = LITE0_STAGES[LITE0_STAGES.len() - 1].output_channels;
        let classifier = config
            .num_classes
            .map(|classes| LinearConfig::new(HEAD_CHANNELS, classes).init(device));

        Ok(Self {
            _conv_stem: stem,
            _bn0: batch_norm(STEM_CHANNELS, device),
            _blocks: blocks,
            _conv_head: pointwise_conv(last_channels, HEAD_CHANNELS, device),
            _bn1: batch_norm(HEAD_CHANNELS, device),
            dropout: DropoutConfig::new(dropout).init(),
            _fc: classifier,
        })
    }

    fn forward_stem(&self, input: Tensor<4>) -> Tensor<4> {
        conv_bn(&self._conv_stem, &self._bn0, input, None, Activation::Relu6)
    }

    /// Computes the feature map before global pooling: `[batch, 1280, ⌈h/32⌉, ⌈w/32⌉]`.
    ///
    /// # Panics
    ///
    /// Panics, as Burn's convolutions do, when `input` does not have 3 channels.
    pub fn forward_features(&self, input: Tensor<4>) -> Tensor<4> {
        let dtype = input.dtype();
        let mut x = self.forward_stem(input);

        for block in &self._blocks {
            x = block.forward(x);
        }

        // Under a half-precision autocast on LibTorch, `conv_bn` passes half-precision
        // activations from layer to layer; the features leave in the input's dtype.
        conv_bn(&self._conv_head, &self._bn1, x, None, Activation::Relu6).cast(dtype)
    }

    /// Computes the ImageNet logits `[batch, num_classes]`, or the pooled `[batch, 1280]`
    /// features when the network has no classifier.
    ///
    /// # Panics
    ///
    /// Panics, as Burn's convolutions do, when `input` does not have 3 channels.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        let features = self.forward_features(input);
        let [batch, channels, _, _] = features.dims();
        let pooled = features.mean_dim(3).mean_dim(2).reshape([batch, channels]);

        match &self._fc {
            Some(classifier) => classifier.forward(self.dropout.forward(pooled)),
            None => pooled,
        }
    }
}
