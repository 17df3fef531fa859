//! fastburn-data: fastai v1's `ImageDataBunch` on Burn.
//!
//! [`ImageDataBunch::from_folder`] scans a folder of images laid out one subfolder per class,
//! splits it into training and validation sets, and yields batches of decoded, augmented and
//! normalized images on any Burn [`Device`](burn::tensor::Device).

mod atomic;
mod decode;
mod error;
mod image;
mod stats;
pub mod transform;

pub use atomic::write_atomic;
pub use decode::{MAX_IMAGE_PIXELS, MAX_IMAGE_SIZE, open_image, read_image_dimensions};
pub use error::DataError;
pub use image::{FloatImage, PixelSource};
pub use stats::{IMAGENET_STATS, NormStats, denormalize, denormalize_tensor};
pub use transform::{GetTransformsConfig, Transform, apply_tfms, get_transforms};

mod builder;
mod bunch;
mod loader;
mod scan;
mod seed;
mod show;
mod split;
mod verify;

pub use builder::{DEFAULT_BATCH_SIZE, DEFAULT_SIZE, ImageDataBunchBuilder};
pub use bunch::{DataBunch, ImageDataBunch};
pub use loader::{Batch, BatchIter};
pub use scan::{IMAGE_EXTENSIONS, Item, MODEL_DIR, is_image_file};
pub use verify::ImageCheck;
