//! Hyper-parameters of EfficientNet-Lite0 and its stage table.

use burn::config::Config;
use burn::tensor::Device;

use super::block::MbConvBlockConfig;
use super::error::EfficientNetError;
use super::model::EfficientNetLite;

/// One stage of MBConv blocks, a row of the EfficientNet-B0 architecture table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageArgs {
    /// Number of blocks in the stage.
    pub repeats: usize,
    /// Side of the square depthwise kernel.
    pub kernel_size: usize,
    /// Stride of the first block. Later blocks of the stage use stride 1.
    pub stride: usize,
    /// Ratio of the expanded (depthwise) channels to the block's input channels.
    pub expand_ratio: usize,
    /// Channels entering the stage.
    pub input_channels: usize,
    /// Channels leaving every block of the stage.
    pub output_channels: usize,
}

/// The seven stages of EfficientNet-B0, which Lite0 keeps unchanged (width and depth
/// multipliers 1.0).
pub const LITE0_STAGES: [StageArgs; 7] = [
    stage(1, 3, 1, 1, 32, 16),
    stage(2, 3, 2, 6, 16, 24),
    stage(2, 5, 2, 6, 24, 40),
    stage(3, 3, 2, 6, 40, 80),
    stage(3, 5, 1, 6, 80, 112),
    stage(4, 5, 2, 6, 112, 192),
    stage(1, 3, 1, 6, 192, 320),
];

const fn stage(
    repeats: usize,
    kernel_size: usize,
    stride: usize,
    expand_ratio: usize,
    input_channels: usize,
    output_channels: usize,
) -> StageArgs {
    StageArgs {
        repeats,
        kernel_size,
        stride,
        expand_ratio,
        input_channels,
        output_channels,
    }
}

/// Output channels of the stem convolution.
pub const STEM_CHANNELS: usize = 32;

/// Output channels of the head convolution, which are the channels of the pooled features.
pub const HEAD_CHANNELS: usize = 1280;

/// Batch-norm epsilon of the TensorFlow reference model (PyTorch's default is 1e-5).
pub const BATCH_NORM_EPSILON: f64 = 1e-3;

/// Batch-norm momentum of the TensorFlow reference model (0.99 in TensorFlow's convention),
/// given here in Burn's convention, where the new batch statistic has this weight.
pub const BATCH_NORM_MOMENTUM: f64 = 0.01;

/// Configuration of an EfficientNet-Lite0 network.
///
/// Lite0 is EfficientNet-B0 without squeeze-and-excitation and with ReLU6 in place of swish, so
/// that it quantizes well. Its convolutions use TensorFlow's "SAME" padding.
#[derive(Config, Debug)]
pub struct EfficientNetLiteConfig {
    /// Outputs of the final linear classifier `_fc`. `None` builds the body only, without
    /// `_fc`, as a backbone for a new head.
    #[config(default = "Some(1000)")]
    pub num_classes: Option<usize>,
    /// Dropout probability before `_fc`, used in training only.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Drop-connect (stochastic depth) rate that grows with depth: block `i` of `n` drops its
    /// residual branch with probability `drop_connect_rate * i / n`, in training only.
    #[config(default = 0.2)]
    pub drop_connect_rate: f64,
}

impl EfficientNetLiteConfig {
    /// Lists the configuration of every MBConv block in order, with the per-block drop-connect
    /// rate.
    pub fn block_configs(&self) -> Vec<MbConvBlockConfig> {
        let total: usize = LITE0_STAGES.iter().map(|stage| stage.repeats).sum();
        let mut blocks = Vec::with_capacity(total);

        for stage in LITE0_STAGES {
            for repeat in 0..stage.repeats {
                // Only the first block of a stage changes the stride and the channel count.
                let (input_channels, stride) = match repeat {
                    0 => (stage.input_channels, stage.stride),
                    _ => (stage.output_channels, 1),
                };
                let drop_connect_rate = self.drop_connect_rate * blocks.len() as f64 / total as f64;

                blocks.push(
                    MbConvBlockConfig::new(
                        input_channels,
                        stage.output_channels,
                        stage.kernel_size,
                        stride,
                        stage.expand_ratio,
                    )
                    .with_drop_connect_rate(drop_connect_rate),
                );
            }
        }

        blocks
    }

    /// Builds the network with freshly initialized weights, or fails on an invalid dropout or
    /// drop-connect rate.
    pub fn init(&self, device: &Device) -> Result<EfficientNetLite, EfficientNetError> {
        EfficientNetLite::new(self, device)
    }
}
