//! ResNet hyper-parameters: block kind and block counts per stage.

use burn::config::Config;
use burn::tensor::Device;

use super::block::{BasicBlock, Block, Bottleneck};
use super::model::ResNet;

/// The residual block a ResNet is built from.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3x3 convolutions (ResNet18/34), expansion 1.
    Basic,
    /// 1x1, 3x3, 1x1 convolutions (ResNet50/101/152), expansion 4.
    Bottleneck,
}

impl BlockKind {
    /// Output channels per `planes` of a block of this kind.
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => Bottleneck::EXPANSION,
        }
    }
}

/// A torchvision-style ResNet: any block kind and any block count per stage.
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// The residual block.
    pub block: BlockKind,
    /// Blocks in `layer1` to `layer4`, e.g. `[3, 4, 6, 3]` for ResNet34.
    pub layers: [usize; 4],
    /// Outputs of the final `fc` layer (1000 for ImageNet).
    #[config(default = 1000)]
    pub num_classes: usize,
}

impl ResNetConfig {
    /// ResNet18: basic blocks, `[2, 2, 2, 2]`, 1000 classes.
    pub fn resnet18() -> Self {
        Self::new(BlockKind::Basic, [2, 2, 2, 2])
    }

    /// ResNet34: basic blocks, `[3, 4, 6, 3]`, 1000 classes.
    pub fn resnet34() -> Self {
        Self::new(BlockKind::Basic, [3, 4, 6, 3])
    }

    /// ResNet50: bottleneck blocks, `[3, 4, 6, 3]`, 1000 classes.
    pub fn resnet50() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 6, 3])
    }

    /// Channels of the body's output (`layer4`): 512 for basic blocks, 2048 for bottlenecks.
    pub fn body_channels(&self) -> usize {
        512 * self.block.expansion()
    }

    /// Creates the network with torchvision's random initialisation.
    pub fn init(&self, device: &Device) -> ResNet {
        let mut in_channels = 64;
        let mut stages = Vec::with_capacity(4);

        for (stage, &count) in self.layers.iter().enumerate() {
            let planes = 64 << stage;
            let first_stride = if stage == 0 { 1 } else { 2 };
            let mut blocks = Vec::with_capacity(count);

            for index in 0..count {
                let stride = if index == 0 { first_stride } else { 1 };
                let block = match self.block {
                    BlockKind::Basic => {
                        Block::Basic(BasicBlock::new(in_channels, planes, stride, device))
                    }
                    BlockKind::Bottleneck => {
                        Block::Bottleneck(Bottleneck::new(in_channels, planes, stride, device))
                    }
                };
                blocks.push(block);
                in_channels = planes * self.block.expansion();
            }
            stages.push(blocks);
        }

        ResNet::from_stages(stages, in_channels, self.num_classes, device)
    }
}
