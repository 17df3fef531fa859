//! Per-channel normalization statistics and their inverse.

use burn::tensor::Tensor;
use image::RgbImage;

use crate::DataError;

/// Per-channel mean and standard deviation of RGB pixels on the 0..1 scale.
///
/// Normalizing computes `(x - mean) / std` for each channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormStats {
    /// The mean of the red, green and blue channels.
    pub mean: [f32; 3],
    /// The standard deviation of the red, green and blue channels.
    pub std: [f32; 3],
}

/// The ImageNet statistics that torchvision's pretrained models expect, fastai's
/// `imagenet_stats`.
pub const IMAGENET_STATS: NormStats = NormStats {
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
};

impl NormStats {
    /// Normalizes a channel-first `[3, H, W]` image in place.
    pub fn normalize(&self, chw: &mut [f32]) {
        let plane = chw.len() / 3;
        for (channel, values) in chw.chunks_mut(plane).enumerate().take(3) {
            let mean = self.mean[channel];
            let inverse_std = 1.0 / self.std[channel];
            for value in values {
                *value = (*value - mean) * inverse_std;
            }
        }
    }

    /// Undoes [`NormStats::normalize`] in place.
    pub fn denormalize(&self, chw: &mut [f32]) {
        let plane = chw.len() / 3;
        for (channel, values) in chw.chunks_mut(plane).enumerate().take(3) {
            let mean = self.mean[channel];
            let std = self.std[channel];
            for value in values {
                *value = *value * std + mean;
            }
        }
    }
}

/// Turns a channel-first `[3, H, W]` image back into 8-bit RGB.
///
/// `stats` are the statistics the image was normalized with, or `None` for pixels already on
/// the 0..1 scale. Values outside 0..1 after denormalizing are clamped.
pub fn denormalize(
    chw: &[f32],
    width: usize,
    height: usize,
    stats: Option<&NormStats>,
) -> Result<RgbImage, DataError> {
    let plane = width * height;
    if chw.len() != 3 * plane {
        return Err(DataError::InvalidConfig {
            name: "denormalize",
            message: format!(
                "expected 3x{height}x{width} = {} values, got {}",
                3 * plane,
                chw.len()
            ),
        });
    }

    let mut values = chw.to_vec();
    if let Some(stats) = stats {
        stats.denormalize(&mut values);
    }

    let mut image = RgbImage::new(width as u32, height as u32);
    for (index, pixel) in image.pixels_mut().enumerate() {
        for channel in 0..3 {
            let value = values[channel * plane + index].clamp(0.0, 1.0);
            pixel.0[channel] = (value * 255.0).round() as u8;
        }
    }
    Ok(image)
}

/// Turns a normalized `[3, H, W]` tensor, such as one image of a [`crate::Batch`], back into
/// 8-bit RGB.
pub fn denormalize_tensor(
    image: Tensor<3>,
    stats: Option<&NormStats>,
) -> Result<RgbImage, DataError> {
    let [channels, height, width] = image.dims();
    let data = image.into_data().convert::<f32>();
    let values = data
        .as_slice::<f32>()
        .map_err(|error| DataError::InvalidConfig {
            name: "denormalize_tensor",
            message: format!("cannot read the tensor as f32: {error:?}"),
        })?;
    if channels != 3 {
        return Err(DataError::InvalidConfig {
            name: "denormalize_tensor",
            message: format!("expected 3 channels, got shape [{channels}, {height}, {width}]"),
        });
    }
    denormalize(values, width, height, stats)
}
