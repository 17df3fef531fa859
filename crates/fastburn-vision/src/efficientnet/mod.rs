//! EfficientNet-Lite0, an ImageNet backbone small enough for CPUs.
//!
//! The network matches the common PyTorch port of Google's TensorFlow EfficientNet-Lite
//! checkpoints: TensorFlow "SAME" padding, batch-norm epsilon 1e-3, ReLU6 and no
//! squeeze-and-excitation.
//!
//! ```no_run
//! use std::path::Path;
//!
//! use burn::tensor::{Device, Tensor};
//! use fastburn_vision::efficientnet::{EfficientNetLiteConfig, LITE0_WEIGHTS_FILE};
//!
//! let device = Device::flex();
//! let model = EfficientNetLiteConfig::new()
//!     .init(&device)?
//!     .load_file(&Path::new("weights").join(LITE0_WEIGHTS_FILE))?;
//!
//! // Images normalized as (x - 127) / 128 on the 0..255 scale.
//! let images = Tensor::<4>::zeros([1, 3, 224, 224], &device);
//! let logits = model.forward(images);
//! assert_eq!(logits.dims(), [1, 1000]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
