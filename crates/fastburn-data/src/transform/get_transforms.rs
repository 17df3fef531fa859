//! fastai v1's default augmentation lists.

use burn::config::Config;

use super::Transform;

/// The settings of fastai v1's `get_transforms`, with its defaults.
///
/// NOTE: fastai's `flip_vert` (random dihedral flips) and `xtra_tfms` are not offered here;
/// append extra transforms to the returned training list instead.
#[derive(Config, Debug)]
pub struct GetTransformsConfig {
    /// Whether to flip left-right with probability 0.5.
    #[config(default = true)]
    pub do_flip: bool,
    /// Maximum rotation angle in degrees, either way; 0 disables rotation.
    #[config(default = 10.0)]
    pub max_rotate: f32,
    /// Maximum zoom factor; 1 disables zooming.
    #[config(default = 1.1)]
    pub max_zoom: f32,
    /// Maximum lighting change: brightness in `0.5 · (1 ± max_lighting)`, contrast in
    /// `1 - max_lighting .. 1 / (1 - max_lighting)`; 0 disables both.
    #[config(default = 0.2)]
    pub max_lighting: f32,
    /// Maximum corner offset of the symmetric warp; 0 disables warping.
    #[config(default = 0.2)]
    pub max_warp: f32,
    /// Probability of each of warp, rotation and zoom.
    #[config(default = 0.75)]
    pub p_affine: f32,
    /// Probability of each of brightness and contrast.
    #[config(default = 0.75)]
    pub p_lighting: f32,
}

impl GetTransformsConfig {
    /// Builds the `(train, valid)` transform lists.
    ///
    /// Train: random crop, flip, symmetric warp, rotation, random zoom, brightness, contrast.
    /// Valid: a centre crop.
    pub fn build(&self) -> (Vec<Transform>, Vec<Transform>) {
        let mut train = vec![Transform::rand_crop()];
        if self.do_flip {
            train.push(Transform::flip_lr(0.5));
        }
        if self.max_warp != 0.0 {
            let magnitude = (-self.max_warp, self.max_warp);
            train.push(Transform::symmetric_warp(magnitude, self.p_affine));
        }
        if self.max_rotate != 0.0 {
            let degrees = (-self.max_rotate, self.max_rotate);
            train.push(Transform::rotate(degrees, self.p_affine));
        }
        if self.max_zoom > 1.0 {
            train.push(Transform::rand_zoom((1.0, self.max_zoom), self.p_affine));
        }
        if self.max_lighting != 0.0 {
            let lighting = self.max_lighting;
            let change = (0.5 * (1.0 - lighting), 0.5 * (1.0 + lighting));
            let scale = (1.0 - lighting, 1.0 / (1.0 - lighting));
            train.push(Transform::brightness(change, self.p_lighting));
            train.push(Transform::contrast(scale, self.p_lighting));
        }

        (train, vec![Transform::crop_pad()])
    }
}

/// fastai v1's `get_transforms()` with default settings: the `(train, valid)` transform lists.
pub fn get_transforms() -> (Vec<Transform>, Vec<Transform>) {
    GetTransformsConfig::new().build()
}
