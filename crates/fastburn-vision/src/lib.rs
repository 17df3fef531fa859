//! fastburn-vision: ResNet backbones with torchvision's structure and names, weight loading
//! from PyTorch, safetensors and ONNX files, and fastai's head and layer groups.

mod arch;
pub mod conv;
pub mod efficientnet;
mod head;
mod layer_groups;
#[cfg(feature = "tch")]
mod libtorch;
mod model;
#[cfg(any(feature = "flex", feature = "tch"))]
mod norm;
pub mod onnx;
pub mod pool;
pub mod resnet;
pub mod weights;

pub use arch::Arch;
pub use head::{Head, HeadBlock, HeadConfig, HeadConfigError};
pub use layer_groups::LayerGroup;
pub use model::{Body, CnnModel, VisionError, create_cnn};
pub use resnet::{ResNet, ResNetBody, ResNetConfig};
pub use weights::{WeightsError, resolve_weights};
