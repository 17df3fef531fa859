//! EfficientNet-Lite0, an ImageNet backbone small enough for CPUs.
//!
//! The network matches the common PyTorch port of Google's TensorFlow EfficientNet-Lite
//! checkpoints: TensorFlow "SAME" padding, batch-norm epsilon 1e-3, ReLU6 and no
//! squeeze-and-excitation.

mod backbone;
mod block;
mod config;
mod drop_connect;
mod error;
mod load;
mod model;

pub use backbone::LITE0_NORM_STATS;
pub use block::{MbConvBlock, MbConvBlockConfig};
pub use config::{
    BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, EfficientNetLiteConfig, HEAD_CHANNELS, LITE0_STAGES,
    STEM_CHANNELS, StageArgs,
};
pub use drop_connect::{DropConnect, DropConnectConfig};
pub use error::EfficientNetError;
pub use load::LITE0_WEIGHTS_FILE;
pub use model::EfficientNetLite;
