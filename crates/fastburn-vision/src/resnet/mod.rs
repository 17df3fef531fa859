//! ResNet backbones with torchvision's structure and parameter names.

mod block;
mod config;
mod load;
mod model;

pub use block::{BasicBlock, Block, Bottleneck, Downsample};
pub use config::{BlockKind, ResNetConfig};
pub use load::{load_resnet, resnet_tensors};
pub use model::{ResNet, ResNetBody};
