//! Sequential blue colour map for the confusion matrix, as matplotlib's "Blues" (the default
//! of fastai's `plot_confusion_matrix`).

use image::Rgb;

/// Anchors of the map from 0 to 1, evenly spaced: ColorBrewer's 9-class "Blues" scheme, which is
/// what matplotlib interpolates for "Blues".
const BLUES: [[u8; 3]; 9] = [
    [0xf7, 0xfb, 0xff],
    [0xde, 0xeb, 0xf7],
    [0xc6, 0xdb, 0xef],
    [0x9e, 0xca, 0xe1],
    [0x6b, 0xae, 0xd6],
    [0x42, 0x92, 0xc6],
    [0x21, 0x71, 0xb5],
    [0x08, 0x51, 0x9c],
    [0x08, 0x30, 0x6b],
];

/// Maps `t` in 0..=1 (clamped) to a colour from near-white to dark blue by linear interpolation.
pub(crate) fn blues(t: f32) -> Rgb<u8> {
    let position = t.clamp(0.0, 1.0) * (BLUES.len() - 1) as f32;
    let lower = (position.floor() as usize).min(BLUES.len() - 2);
    let fraction = position - lower as f32;

    let mut color = [0u8; 3];
    for (channel, value) in color.iter_mut().enumerate() {
        let start = f32::from(BLUES[lower][channel]);
        let end = f32::from(BLUES[lower + 1][channel]);
        *value = (start + (end - start) * fraction).round() as u8;
    }
    Rgb(color)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blues_ends_and_clamping() {
        assert_eq!(blues(0.0), Rgb([0xf7, 0xfb, 0xff]));
        assert_eq!(blues(1.0), Rgb([0x08, 0x30, 0x6b]));
        assert_eq!(blues(-3.0), blues(0.0));
        assert_eq!(blues(7.0), blues(1.0));
    }

    #[test]
    fn blues_interpolates_between_anchors() {
        // Halfway between the first two anchors (t = 1/16).
        let middle = blues(0.0625);
        assert_eq!(middle, Rgb([0xeb, 0xf3, 0xfb]));
    }
}
