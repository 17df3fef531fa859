//! Text rendering for the plots with DejaVu Sans, which is embedded so that plots look the same
//! on machines without system fonts.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use image::{GrayImage, Luma, Rgb, RgbImage};

/// Weight of the DejaVu Sans face to draw with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// Returns the parsed DejaVu Sans face of `weight`, parsed once per process.
fn font(weight: Weight) -> &'static FontRef<'static> {
    static REGULAR: OnceLock<FontRef<'static>> = OnceLock::new();
    static BOLD: OnceLock<FontRef<'static>> = OnceLock::new();

    let (cell, bytes) = match weight {
        Weight::Regular => (&REGULAR, dejavu::sans::regular()),
        Weight::Bold => (&BOLD, dejavu::sans::bold()),
    };

    // The bytes are a font file compiled into the `dejavu` crate, so a parse failure means a
    // broken build of that crate. The `fonts_parse` test checks both faces.
    cell.get_or_init(|| FontRef::try_from_slice(bytes).expect("the dejavu crate embeds a valid TrueType font"))
}

/// Measures the advance width of `text` in pixels at a font size of `px` pixels.
pub(crate) fn text_width(text: &str, px: f32, weight: Weight) -> f32 {
    let scaled = font(weight).as_scaled(PxScale::from(px));
    let mut width = 0.0;
    let mut previous: Option<GlyphId> = None;
    for character in text.chars() {
        let id = scaled.glyph_id(character);
        if let Some(previous) = previous {
            width += scaled.kern(previous, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    width
}

/// Height of one line of text in pixels at a font size of `px` pixels.
pub(crate) fn line_height(px: f32, weight: Weight) -> u32 {
    let scaled = font(weight).as_scaled(PxScale::from(px));
    (scaled.ascent() - scaled.descent()).ceil() as u32
}

/// Returns the largest font size from `preferred` down to `min` (in steps of half a pixel) at
/// which `text` fits in `max_width` pixels, or `min` when none does.
pub(crate) fn fit_font_size(text: &str, max_width: f32, preferred: f32, min: f32, weight: Weight) -> f32 {
    let mut px = preferred;
    while px > min && text_width(text, px, weight) > max_width {
        px -= 0.5;
    }
    px.max(min)
}

/// Rasterises `text` into a coverage mask one line high: 255 where the glyphs are fully inked.
pub(crate) fn render_mask(text: &str, px: f32, weight: Weight) -> GrayImage {
    let scaled = font(weight).as_scaled(PxScale::from(px));
    let width = text_width(text, px, weight).ceil().max(1.0) as u32;
    let height = line_height(px, weight).max(1);
    let mut mask = GrayImage::new(width, height);

    let mut x = 0.0;
    let mut previous: Option<GlyphId> = None;
    for character in text.chars() {
        let id = scaled.glyph_id(character);
        if let Some(previous) = previous {
            x += scaled.kern(previous, id);
        }
        let glyph = id.with_scale_and_position(scaled.scale(), point(x, scaled.ascent()));
        x += scaled.h_advance(id);
        previous = Some(id);

        let Some(outline) = scaled.outline_glyph(glyph) else {
            continue; // whitespace has no outline
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px_x = bounds.min.x as i64 + i64::from(gx);
            let px_y = bounds.min.y as i64 + i64::from(gy);
            if px_x < 0 || px_y < 0 || px_x >= i64::from(width) || px_y >= i64::from(height) {
                return;
            }
            let pixel = mask.get_pixel_mut(px_x as u32, px_y as u32);
            let value = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
            pixel.0[0] = pixel.0[0].max(value);
        });
    }
    mask
}

/// Blends `color` into `canvas` through `mask`, with the mask's top-left corner at `(x, y)`.
/// Parts outside the canvas are clipped.
pub(crate) fn blend_mask(canvas: &mut RgbImage, mask: &GrayImage, x: i64, y: i64, color: Rgb<u8>) {
    for (mx, my, &Luma([coverage])) in mask.enumerate_pixels() {
        let cx = x + i64::from(mx);
        let cy = y + i64::from(my);
        if coverage == 0 || cx < 0 || cy < 0 || cx >= i64::from(canvas.width()) || cy >= i64::from(canvas.height()) {
            continue;
        }
        let alpha = f32::from(coverage) / 255.0;
        let pixel = canvas.get_pixel_mut(cx as u32, cy as u32);
        for channel in 0..3 {
            let blended = f32::from(pixel.0[channel]) * (1.0 - alpha) + f32::from(color.0[channel]) * alpha;
            pixel.0[channel] = blended.round() as u8;
        }
    }
}

/// Draws `text` horizontally centred on `center_x`, with its line's top at `top`.
pub(crate) fn draw_centered(canvas: &mut RgbImage, text: &str, px: f32, weight: Weight, center_x: i64, top: i64, color: Rgb<u8>) {
    let mask = render_mask(text, px, weight);
    blend_mask(canvas, &mask, center_x - i64::from(mask.width()) / 2, top, color);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fonts_parse() {
        for weight in [Weight::Regular, Weight::Bold] {
            assert!(font(weight).glyph_count() > 1000, "{weight:?} face has too few glyphs");
        }
    }

    #[test]
    fn width_grows_with_text_and_size() {
        let short = text_width("ab", 14.0, Weight::Regular);
        let long = text_width("abab", 14.0, Weight::Regular);
        let large = text_width("ab", 28.0, Weight::Regular);
        assert!(short > 5.0, "two letters at 14 px measured {short} px");
        assert!((long - 2.0 * short).abs() < 1.0, "{long} vs 2 × {short}");
        assert!((large - 2.0 * short).abs() < 1.0, "{large} vs 2 × {short}");
    }

    #[test]
    fn mask_has_ink_inside_bounds() {
        let mask = render_mask("Predicted", 14.0, Weight::Regular);
        assert_eq!(mask.width(), text_width("Predicted", 14.0, Weight::Regular).ceil() as u32);
        assert_eq!(mask.height(), line_height(14.0, Weight::Regular));
        let inked = mask.pixels().filter(|pixel| pixel.0[0] > 128).count();
        assert!(inked > 30, "only {inked} inked pixels");

        let blank = render_mask(" ", 14.0, Weight::Regular);
        assert!(blank.pixels().all(|pixel| pixel.0[0] == 0));
    }

    #[test]
    fn fit_font_size_shrinks_to_width() {
        let text = "scissors/paper / 12.34 / 0.01";
        let px = fit_font_size(text, 120.0, 14.0, 6.0, Weight::Regular);
        assert!(px < 14.0);
        assert!(text_width(text, px, Weight::Regular) <= 120.0);
        assert_eq!(fit_font_size("a", 120.0, 14.0, 6.0, Weight::Regular), 14.0);
        assert_eq!(fit_font_size(text, 1.0, 14.0, 6.0, Weight::Regular), 6.0);
    }

    #[test]
    fn blend_mask_clips_and_mixes() {
        let mut canvas = RgbImage::from_pixel(4, 4, Rgb([255, 255, 255]));
        let mut mask = GrayImage::new(3, 3);
        mask.put_pixel(0, 0, Luma([255]));
        mask.put_pixel(1, 0, Luma([128]));
        mask.put_pixel(2, 2, Luma([255]));

        // Placed at (2, 2), the mask's bottom-right pixel falls outside the canvas.
        blend_mask(&mut canvas, &mask, 2, 2, Rgb([0, 0, 0]));
        assert_eq!(*canvas.get_pixel(2, 2), Rgb([0, 0, 0]));
        assert_eq!(*canvas.get_pixel(3, 2), Rgb([127, 127, 127]));
        assert_eq!(*canvas.get_pixel(0, 0), Rgb([255, 255, 255]));
    }
}
