//! Float images on the 0..1 scale and the pixel sources the transforms sample from.

use image::RgbImage;

/// A channel-first RGB image with `f32` samples on the 0..1 scale, the layout of one image in
/// a batch tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The samples, `[3, height, width]` in row-major order.
    pub data: Vec<f32>,
}

impl FloatImage {
    /// Converts an 8-bit RGB image, dividing every sample by 255.
    pub fn from_rgb(image: &RgbImage) -> Self {
        let width = image.width() as usize;
        let height = image.height() as usize;
        let plane = width * height;

        let mut data = vec![0.0; 3 * plane];
        for (index, pixel) in image.pixels().enumerate() {
            for channel in 0..3 {
                data[channel * plane + index] = f32::from(pixel.0[channel]) / 255.0;
            }
        }
        FloatImage {
            width,
            height,
            data,
        }
    }

    /// Converts back to 8-bit RGB, clamping to 0..1 and rounding.
    pub fn to_rgb(&self) -> RgbImage {
        crate::denormalize(&self.data, self.width, self.height, None)
            .expect("a FloatImage contains exactly 3 * width * height samples")
    }

    /// Returns the sample of `channel` at row `y`, column `x`.
    pub fn get(&self, channel: usize, y: usize, x: usize) -> f32 {
        self.data[(channel * self.height + y) * self.width + x]
    }
}

/// An image that the resampler can read samples from, on the 0..1 scale.
pub trait PixelSource {
    /// `(width, height)` in pixels.
    fn dimensions(&self) -> (usize, usize);

    /// Reads the three channels of the pixel at row `y`, column `x`.
    fn pixel(&self, y: usize, x: usize) -> [f32; 3];
}

impl PixelSource for RgbImage {
    fn dimensions(&self) -> (usize, usize) {
        (self.width() as usize, self.height() as usize)
    }

    fn pixel(&self, y: usize, x: usize) -> [f32; 3] {
        let rgb = self.get_pixel(x as u32, y as u32).0;
        [
            f32::from(rgb[0]) / 255.0,
            f32::from(rgb[1]) / 255.0,
            f32::from(rgb[2]) / 255.0,
        ]
    }
}

impl PixelSource for FloatImage {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn pixel(&self, y: usize, x: usize) -> [f32; 3] {
        [self.get(0, y, x), self.get(1, y, x), self.get(2, y, x)]
    }
}
