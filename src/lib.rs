//! fastburn: fastai v1's transfer-learning workflow in Rust, on Burn.
//!
//! The facade re-exports the member crates under short names and picks the
//! compute backend:
//!
//! - [`data`]: `ImageDataBunch::from_folder`, augmentations, `show_batch`.
//! - [`vision`]: ResNet and EfficientNet-Lite0 backbones, weight loading, fastai's head.
//! - [`learner`]: `Learner`, `cnn_learner`, `fit_one_cycle`, `lr_find`, callbacks.
//! - [`interpret`]: `ClassificationInterpretation`.
//! - [`backend`]: the devices of the backends compiled into this build.

pub mod backend;
#[cfg(feature = "network")]
mod download;
pub mod notebook;
pub mod report;
pub mod rps_data;
pub mod workload;

pub use burn;
pub use fastburn_data as data;
pub use fastburn_interpret as interpret;
pub use fastburn_learner as learner;
pub use fastburn_vision as vision;

pub use backend::{BackendKind, UnknownBackend};

/// Compiles the README's Rust example as a doctest, so the README cannot drift from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
