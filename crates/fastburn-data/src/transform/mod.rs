//! Data augmentation with fastai v1's transforms.
//!
//! Each [`Transform`] draws its random parameters per image. [`apply_tfms`] then composes every
//! geometric transform (resize, crop, flip, warp, rotation, zoom) into one coordinate map,
//! resamples the source image once (bilinear, reflection padding) and applies the lighting
//! transforms to the result, as fastai v1 does.

mod check;
mod geometry;
mod get_transforms;
mod lighting;
mod resample;

pub use geometry::{Affine, Homography};
pub use get_transforms::{GetTransformsConfig, get_transforms};
pub use resample::apply_tfms;

use rand::Rng;

use crate::FloatImage;

/// A closed range `(low, high)` that a random parameter is drawn from; `(v, v)` fixes it.
pub type Range = (f32, f32);

/// One data augmentation, with fastai v1's name and parameters.
///
/// Every variant with a probability `p` runs on a fraction `p` of the images and is the
/// identity on the others. Geometric transforms work in normalized coordinates, where
/// `(-1, -1)` is the centre of the top-left pixel and `(1, 1)` that of the bottom-right one.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// fastai's `crop_pad`: after the short side is resized to the target size, crops a square
    /// whose top-left corner sits at `row_pct`/`col_pct` of the free space. Ignored when
    /// [`apply_tfms`] keeps the input size.
    CropPad {
        /// Vertical position of the crop, 0 (top) to 1 (bottom).
        row_pct: Range,
        /// Horizontal position of the crop, 0 (left) to 1 (right).
        col_pct: Range,
    },

    /// fastai's `flip_affine`: mirrors the image left to right.
    FlipLr {
        /// Probability of flipping.
        p: f32,
    },

    /// fastai's `symmetric_warp`: a perspective warp that moves the four corners by four
    /// magnitudes drawn from `magnitude`, symmetric about the centre lines.
    SymmetricWarp {
        /// Range of each of the four corner offsets, in normalized coordinates.
        magnitude: Range,
        /// Probability of warping.
        p: f32,
    },

    /// fastai's `rotate`: rotates about the image centre.
    Rotate {
        /// Range of the angle in degrees.
        degrees: Range,
        /// Probability of rotating.
        p: f32,
    },

    /// fastai's `zoom` (`rand_zoom` with random focal points): magnifies by `scale` towards the
    /// focal point `row_pct`/`col_pct`.
    Zoom {
        /// Range of the magnification; 1 is the identity.
        scale: Range,
        /// Vertical focal point, 0 (top) to 1 (bottom).
        row_pct: Range,
        /// Horizontal focal point, 0 (left) to 1 (right).
        col_pct: Range,
        /// Probability of zooming.
        p: f32,
    },

    /// fastai's `brightness`: adds `logit(change)` to the logit of every sample, so 0.5 is the
    /// identity.
    Brightness {
        /// Range of the change, in (0, 1).
        change: Range,
        /// Probability of changing the brightness.
        p: f32,
    },

    /// fastai's `contrast`: multiplies the logit of every sample by `scale`, drawn
    /// log-uniformly, so 1 is the identity.
    Contrast {
        /// Range of the scale, positive.
        scale: Range,
        /// Probability of changing the contrast.
        p: f32,
    },
}

impl Transform {
    /// fastai's `rand_crop`: a crop at a uniformly random position.
    pub fn rand_crop() -> Self {
        Transform::CropPad {
            row_pct: (0.0, 1.0),
            col_pct: (0.0, 1.0),
        }
    }

    /// fastai's `crop_pad` with its defaults: a centre crop.
    pub fn crop_pad() -> Self {
        Transform::CropPad {
            row_pct: (0.5, 0.5),
            col_pct: (0.5, 0.5),
        }
    }

    /// Creates a left-right flip with probability `p`.
    pub fn flip_lr(p: f32) -> Self {
        Transform::FlipLr { p }
    }

    /// Creates a symmetric warp with corner offsets drawn from `magnitude`, with probability `p`.
    pub fn symmetric_warp(magnitude: Range, p: f32) -> Self {
        Transform::SymmetricWarp { magnitude, p }
    }

    /// Creates a rotation by an angle in degrees drawn from `degrees`, with probability `p`.
    pub fn rotate(degrees: Range, p: f32) -> Self {
        Transform::Rotate { degrees, p }
    }

    /// fastai's `rand_zoom`: a zoom drawn from `scale` towards a random focal point, with
    /// probability `p`.
    pub fn rand_zoom(scale: Range, p: f32) -> Self {
        Transform::Zoom {
            scale,
            row_pct: (0.0, 1.0),
            col_pct: (0.0, 1.0),
            p,
        }
    }

    /// Creates a zoom drawn from `scale` towards the image centre, with probability `p`.
    pub fn zoom(scale: Range, p: f32) -> Self {
        Transform::Zoom {
            scale,
            row_pct: (0.5, 0.5),
            col_pct: (0.5, 0.5),
            p,
        }
    }

    /// Creates a brightness change drawn from `change`, with probability `p`.
    pub fn brightness(change: Range, p: f32) -> Self {
        Transform::Brightness { change, p }
    }

    /// Creates a contrast scale drawn log-uniformly from `scale`, with probability `p`.
    pub fn contrast(scale: Range, p: f32) -> Self {
        Transform::Contrast { scale, p }
    }

    /// Applies this transform alone to `image`, keeping its size.
    pub fn apply(&self, image: &FloatImage, rng: &mut impl Rng) -> FloatImage {
        apply_tfms(std::slice::from_ref(self), image, None, rng)
    }

    /// Draws the parameters of this transform for one image.
    ///
    /// The parameters and the coin flip are always drawn, even when the transform does not
    /// run, so that adding `p = 0` transforms does not shift the draws of the others.
    pub(crate) fn resolve(&self, rng: &mut impl Rng) -> ResolvedTransform {
        match *self {
            Transform::CropPad { row_pct, col_pct } => ResolvedTransform::Crop {
                row_pct: uniform(rng, row_pct),
                col_pct: uniform(rng, col_pct),
            },
            Transform::FlipLr { p } => {
                let matrix = Affine::flip_lr();
                gate(rng, p, ResolvedTransform::Affine(matrix))
            }
            Transform::SymmetricWarp { magnitude, p } => {
                let offsets = [0; 4].map(|_| uniform(rng, magnitude));
                let warp = Homography::symmetric_warp(offsets);
                gate(rng, p, ResolvedTransform::Warp(warp))
            }
            Transform::Rotate { degrees, p } => {
                let matrix = Affine::rotate(uniform(rng, degrees));
                gate(rng, p, ResolvedTransform::Affine(matrix))
            }
            Transform::Zoom {
                scale,
                row_pct,
                col_pct,
                p,
            } => {
                let scale = uniform(rng, scale);
                let row_pct = uniform(rng, row_pct);
                let col_pct = uniform(rng, col_pct);
                let matrix = Affine::zoom(scale, row_pct, col_pct);
                gate(rng, p, ResolvedTransform::Affine(matrix))
            }
            Transform::Brightness { change, p } => {
                let change = uniform(rng, change);
                gate(rng, p, ResolvedTransform::Brightness(change))
            }
            Transform::Contrast { scale, p } => {
                let scale = log_uniform(rng, scale);
                gate(rng, p, ResolvedTransform::Contrast(scale))
            }
        }
    }
}

/// A transform with its parameters drawn for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ResolvedTransform {
    Identity,
    Crop { row_pct: f32, col_pct: f32 },
    Affine(Affine),
    Warp(Homography),
    Brightness(f32),
    Contrast(f32),
}

fn gate(rng: &mut impl Rng, p: f32, resolved: ResolvedTransform) -> ResolvedTransform {
    let runs = rng.random::<f32>() < p;
    if runs {
        resolved
    } else {
        ResolvedTransform::Identity
    }
}

fn uniform(rng: &mut impl Rng, (low, high): Range) -> f32 {
    low + (high - low) * rng.random::<f32>()
}

fn log_uniform(rng: &mut impl Rng, (low, high): Range) -> f32 {
    uniform(rng, (low.ln(), high.ln())).exp()
}
