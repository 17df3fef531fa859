//! `show_batch`: a PNG grid of augmented training images with their class names.

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

use crate::{DataError, FloatImage, ImageDataBunch};

/// Space between grid cells, in pixels.
const MARGIN: u32 = 4;

impl ImageDataBunch {
    /// Writes a PNG grid of `rows x rows` training images, augmented as in epoch 0 and in its
    /// shuffled order, each captioned with its class name (fewer when the training set is
    /// smaller).
    ///
    /// The file is written to a temporary name beside `path` and renamed, so a failure leaves
    /// no half-written file.
    pub fn show_batch(&self, rows: usize, path: impl AsRef<Path>) -> Result<(), DataError> {
        let path = path.as_ref();
        if rows == 0 {
            return Err(DataError::InvalidConfig {
                name: "rows",
                message: "show_batch needs at least 1 row".to_owned(),
            });
        }

        let count = (rows * rows).min(self.train.len());
        let order = self.train_order(0);
        let pipeline = self.pipeline(true);

        let font = FontRef::try_from_slice(dejavu::sans::regular())
            .expect("the embedded DejaVu Sans font is a valid TrueType file");
        let font_px = (self.size as f32 * 0.1).clamp(10.0, 24.0);
        let caption_height = (font_px * 1.4).ceil() as u32;
        let cell_width = self.size as u32 + MARGIN;
        let cell_height = self.size as u32 + caption_height + MARGIN;
        let columns = rows.min(count) as u32;
        let grid_rows = count.div_ceil(rows) as u32;

        let white = Rgb([255, 255, 255]);
        let mut canvas = RgbImage::from_pixel(
            columns * cell_width + MARGIN,
            grid_rows * cell_height + MARGIN,
            white,
        );

        for (cell, &index) in order.iter().take(count).enumerate() {
            let item = &self.train[index];
            let data = pipeline.augment(&item.path, 0, index)?;
            let image = FloatImage {
                width: self.size,
                height: self.size,
                data,
            }
            .to_rgb();

            let left = MARGIN + (cell % rows) as u32 * cell_width;
            let top = MARGIN + (cell / rows) as u32 * cell_height;
            image::imageops::replace(&mut canvas, &image, i64::from(left), i64::from(top));

            let baseline = (top + self.size as u32) as f32 + font_px;
            let caption = &self.classes[item.label];
            draw_text(&mut canvas, &font, caption, left as f32, baseline, font_px);
        }

        write_png_atomically(&canvas, path)
    }
}

/// Draws `text` in black with its baseline at `baseline`, clipped to the canvas.
fn draw_text(canvas: &mut RgbImage, font: &FontRef, text: &str, left: f32, baseline: f32, px: f32) {
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let mut caret = left;

    for character in text.chars() {
        let glyph_id = font.glyph_id(character);
        let glyph = glyph_id.with_scale_and_position(scale, point(caret, baseline));
        caret += scaled.h_advance(glyph_id);

        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|x, y, coverage| {
            let x = bounds.min.x as i64 + i64::from(x);
            let y = bounds.min.y as i64 + i64::from(y);
            if x < 0 || y < 0 || x >= i64::from(canvas.width()) || y >= i64::from(canvas.height()) {
                return;
            }
            let pixel = canvas.get_pixel_mut(x as u32, y as u32);
            for channel in pixel.0.iter_mut() {
                *channel = (f32::from(*channel) * (1.0 - coverage.clamp(0.0, 1.0))) as u8;
            }
        });
    }
}

/// Encodes `image` as PNG and writes it whole to `path` (see [`write_atomic`](crate::write_atomic)).
pub(crate) fn write_png_atomically(image: &RgbImage, path: &Path) -> Result<(), DataError> {
    let write_error = |message: String| DataError::Write {
        path: path.to_path_buf(),
        message,
    };

    let mut encoded = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut encoded, image::ImageFormat::Png)
        .map_err(|error| write_error(error.to_string()))?;
    crate::write_atomic(path, encoded.get_ref()).map_err(|error| write_error(error.to_string()))
}
