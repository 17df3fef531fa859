//! The composed coordinate map and the single bilinear resampling pass.

use rand::Rng;

use super::geometry::{Affine, Homography};
use super::lighting::{Lighting, apply_lighting};
use super::{ResolvedTransform, Transform};
use crate::{FloatImage, PixelSource};

/// Applies `tfms` to `image` with parameters drawn from `rng`, returning a float image.
///
/// With `size = Some(s)` the short side is resized to `s` and a square of `s x s` is cropped
/// where the [`Transform::CropPad`] in the list puts it (the centre when there is none), as
/// fastai v1's `ResizeMethod.CROP` does. With `None` the output keeps the input size and crops
/// are ignored.
///
/// All geometric transforms are composed into one map from output to input coordinates:
/// warps first, then the affine transforms in list order, which is fastai v1's order. The input
/// is sampled once through that map, bilinearly, reflecting coordinates that fall outside it.
/// Lighting transforms then act on the resampled pixels, in list order.
pub fn apply_tfms<S: PixelSource + ?Sized>(
    tfms: &[Transform],
    image: &S,
    size: Option<usize>,
    rng: &mut impl Rng,
) -> FloatImage {
    let mut affine = Affine::IDENTITY;
    let mut warps: Vec<Homography> = Vec::new();
    let mut lighting: Vec<Lighting> = Vec::new();
    let mut crop = (0.5, 0.5);

    for tfm in tfms {
        match tfm.resolve(rng) {
            ResolvedTransform::Identity => {}
            ResolvedTransform::Crop { row_pct, col_pct } => crop = (row_pct, col_pct),
            ResolvedTransform::Affine(matrix) => affine = affine.matmul(&matrix),
            ResolvedTransform::Warp(warp) => warps.push(warp),
            ResolvedTransform::Brightness(change) => lighting.push(Lighting::Brightness(change)),
            ResolvedTransform::Contrast(scale) => lighting.push(Lighting::Contrast(scale)),
        }
    }

    let grid = OutputGrid::new(image.dimensions(), size, crop);
    let mut output = resample(image, &grid, &warps, &affine);
    apply_lighting(&mut output.data, &lighting);
    output
}

/// The position of the output pixels in the resized image, before any other geometric transform.
struct OutputGrid {
    /// Size of the resized image, whose corners are at normalized coordinates ±1.
    resized_width: usize,
    resized_height: usize,
    /// Top-left corner of the crop in the resized image.
    row_offset: usize,
    col_offset: usize,
    /// Size of the output.
    width: usize,
    height: usize,
}

impl OutputGrid {
    fn new(
        (width, height): (usize, usize),
        size: Option<usize>,
        (row_pct, col_pct): (f32, f32),
    ) -> Self {
        let Some(size) = size else {
            return OutputGrid {
                resized_width: width,
                resized_height: height,
                row_offset: 0,
                col_offset: 0,
                width,
                height,
            };
        };

        // Resize so that the short side equals `size`, keeping the aspect ratio.
        let ratio = (height as f64 / size as f64).min(width as f64 / size as f64);
        let resized_height = ((height as f64 / ratio).round() as usize).max(size);
        let resized_width = ((width as f64 / ratio).round() as usize).max(size);

        // fastai places the crop at `pct * (free space + 1)`, which can overshoot by one.
        let offset = |resized: usize, pct: f32| {
            let free = resized - size;
            (((free + 1) as f32 * pct) as usize).min(free)
        };
        OutputGrid {
            resized_width,
            resized_height,
            row_offset: offset(resized_height, row_pct),
            col_offset: offset(resized_width, col_pct),
            width: size,
            height: size,
        }
    }
}

/// Maps a pixel index of a side with `len` pixels to normalized coordinates (-1 to 1, pixel
/// centres at the ends, as `grid_sample` with `align_corners=True`).
fn to_normalized(index: usize, len: usize) -> f32 {
    if len <= 1 {
        0.0
    } else {
        2.0 * index as f32 / (len - 1) as f32 - 1.0
    }
}

/// Maps a normalized coordinate back to a pixel coordinate of a side with `len` pixels.
fn to_pixel(normalized: f32, len: usize) -> f32 {
    (normalized + 1.0) * 0.5 * (len.saturating_sub(1)) as f32
}

/// Reflects a pixel coordinate into `[0, len - 1]`, mirroring about the edge pixel centres
/// (PyTorch's reflection padding with `align_corners=True`).
fn reflect(coordinate: f32, len: usize) -> f32 {
    if len <= 1 || !coordinate.is_finite() {
        return 0.0;
    }
    let span = (len - 1) as f32;
    let distance = coordinate.abs();
    let flips = (distance / span).floor();
    let extra = distance - flips * span;
    let reflected = if flips as u64 % 2 == 0 {
        extra
    } else {
        span - extra
    };
    reflected.clamp(0.0, span)
}

fn resample<S: PixelSource + ?Sized>(
    image: &S,
    grid: &OutputGrid,
    warps: &[Homography],
    affine: &Affine,
) -> FloatImage {
    let (input_width, input_height) = image.dimensions();
    let plane = grid.width * grid.height;
    let mut data = vec![0.0; 3 * plane];

    for row in 0..grid.height {
        let y = to_normalized(row + grid.row_offset, grid.resized_height);
        for col in 0..grid.width {
            let x = to_normalized(col + grid.col_offset, grid.resized_width);

            let (mut x_in, mut y_in) = (x, y);
            for warp in warps {
                (x_in, y_in) = warp.apply(x_in, y_in);
            }
            (x_in, y_in) = affine.apply(x_in, y_in);

            let u = reflect(to_pixel(x_in, input_width), input_width);
            let v = reflect(to_pixel(y_in, input_height), input_height);
            let rgb = sample_bilinear(image, u, v, input_width, input_height);

            let index = row * grid.width + col;
            for (channel, value) in rgb.into_iter().enumerate() {
                data[channel * plane + index] = value;
            }
        }
    }

    FloatImage {
        width: grid.width,
        height: grid.height,
        data,
    }
}

/// Interpolates the pixel at `(u, v)`, which lies inside the image.
fn sample_bilinear<S: PixelSource + ?Sized>(
    image: &S,
    u: f32,
    v: f32,
    width: usize,
    height: usize,
) -> [f32; 3] {
    let x0 = (u.floor() as usize).min(width - 1);
    let y0 = (v.floor() as usize).min(height - 1);
    let x1 = (x0 + 1).min(width - 1);
    let y1 = (y0 + 1).min(height - 1);
    let dx = u - x0 as f32;
    let dy = v - y0 as f32;

    let top_left = image.pixel(y0, x0);
    let top_right = image.pixel(y0, x1);
    let bottom_left = image.pixel(y1, x0);
    let bottom_right = image.pixel(y1, x1);

    let mut rgb = [0.0; 3];
    for channel in 0..3 {
        let top = top_left[channel] + (top_right[channel] - top_left[channel]) * dx;
        let bottom = bottom_left[channel] + (bottom_right[channel] - bottom_left[channel]) * dx;
        rgb[channel] = top + (bottom - top) * dy;
    }
    rgb
}
