//! `plot_top_losses`: a grid of the validation images with the largest losses.

use std::path::Path;

use image::imageops::FilterType;
use fastburn_data::open_image;
use image::{DynamicImage, Rgb, RgbImage, imageops};

use crate::png::save_png_atomic;
use crate::text::{Weight, draw_centered, fit_font_size, line_height};
use crate::{ClassificationInterpretation, InterpretError};

/// Maximum number of images in one top-losses plot; at 224 pixels a tile, 64 images already
/// make a picture of about 2000 × 2300 pixels.
pub const MAX_TOP_LOSSES_IMAGES: usize = 64;

/// Side of each image tile in pixels, the size fastai's ResNets see.
pub const TOP_LOSSES_TILE_SIZE: u32 = 224;

const GAP: u32 = 12;
const SUPTITLE: &str = "prediction/actual/loss/probability";
const SUPTITLE_PX: f32 = 18.0;
const TITLE_PX: f32 = 14.0;
const MIN_TITLE_PX: f32 = 8.0;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);

/// Grid of a top-losses picture: `cols` = ⌈√k⌉ and `rows` = ⌈k / cols⌉, as fastai lays out its
/// subplots, with tile positions in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopLossesLayout {
    pub rows: u32,
    pub cols: u32,
    pub header_height: u32,
    pub title_height: u32,
    pub width: u32,
    pub height: u32,
}

impl TopLossesLayout {
    /// Lays out `k` tiles (at least one).
    pub(crate) fn new(k: usize) -> Self {
        let k = u32::try_from(k).unwrap_or(u32::MAX).max(1);
        let cols = k.isqrt() + u32::from(k.isqrt() * k.isqrt() < k);
        let rows = k.div_ceil(cols);

        let header_height = GAP + line_height(SUPTITLE_PX, Weight::Bold) + GAP;
        let title_height = line_height(TITLE_PX, Weight::Regular) + GAP / 2;
        let width = GAP + cols * (TOP_LOSSES_TILE_SIZE + GAP);
        let height = header_height + rows * (title_height + TOP_LOSSES_TILE_SIZE + GAP);
        Self { rows, cols, header_height, title_height, width, height }
    }

    /// Top-left corner of the image of tile `position` (row-major).
    pub(crate) fn tile_origin(&self, position: usize) -> (u32, u32) {
        let position = position as u32;
        let column = position % self.cols;
        let row = position / self.cols;
        let left = GAP + column * (TOP_LOSSES_TILE_SIZE + GAP);
        let top = self.header_height + row * (self.title_height + TOP_LOSSES_TILE_SIZE + GAP) + self.title_height;
        (left, top)
    }
}

impl ClassificationInterpretation {
    /// Draws the `k` validation images with the largest losses into a PNG at `path`, largest
    /// first in row-major order, as fastai's `plot_top_losses`.
    ///
    /// Each image is scaled and centre-cropped to a square tile of [`TOP_LOSSES_TILE_SIZE`]
    /// pixels, under the title "predicted/actual / loss / probability of actual", with the loss
    /// and probability to two decimals. A `k` above the number of items plots all of them.
    ///
    /// # Errors
    /// - [`InterpretError::NothingToPlot`] when `k` is 0 or there are no items;
    /// - [`InterpretError::TooManyImages`] when more than [`MAX_TOP_LOSSES_IMAGES`] would be plotted;
    /// - [`InterpretError::OpenImage`] naming an item file that cannot be read or decoded;
    /// - [`InterpretError::Encode`] or [`InterpretError::Write`] naming `path`.
    ///
    /// The file is written through a temporary file and a rename, so it is never left half-written.
    pub fn plot_top_losses(&self, k: usize, path: impl AsRef<Path>) -> Result<(), InterpretError> {
        let canvas = self.render_top_losses(k)?;
        save_png_atomic(&canvas, path.as_ref())
    }

    /// Draws the top-losses picture for `k` images.
    pub(crate) fn render_top_losses(&self, k: usize) -> Result<RgbImage, InterpretError> {
        if self.is_empty() {
            return Err(InterpretError::NothingToPlot { reason: "the interpretation has no items".to_string() });
        }
        if k == 0 {
            return Err(InterpretError::NothingToPlot { reason: "plot_top_losses was asked for 0 images".to_string() });
        }

        let top = self.top_losses(Some(k));
        if top.len() > MAX_TOP_LOSSES_IMAGES {
            return Err(InterpretError::TooManyImages { requested: top.len(), max: MAX_TOP_LOSSES_IMAGES });
        }

        let layout = TopLossesLayout::new(top.len());
        let mut canvas = RgbImage::from_pixel(layout.width, layout.height, WHITE);
        draw_centered(&mut canvas, SUPTITLE, SUPTITLE_PX, Weight::Bold, i64::from(layout.width / 2), i64::from(GAP), BLACK);

        for (position, entry) in top.iter().enumerate() {
            let tile = load_tile(&self.items()[entry.index], TOP_LOSSES_TILE_SIZE)?;
            let (left, tile_top) = layout.tile_origin(position);
            imageops::replace(&mut canvas, &tile, i64::from(left), i64::from(tile_top));

            let title = self.top_loss_title(entry.index);
            let px = fit_font_size(&title, TOP_LOSSES_TILE_SIZE as f32, TITLE_PX, MIN_TITLE_PX, Weight::Regular);
            let center_x = i64::from(left + TOP_LOSSES_TILE_SIZE / 2);
            let title_top = i64::from(tile_top - layout.title_height);
            draw_centered(&mut canvas, &title, px, Weight::Regular, center_x, title_top, BLACK);
        }
        Ok(canvas)
    }

    /// Title of one tile: "predicted/actual / loss / probability of actual", as fastai v1
    /// writes it.
    pub(crate) fn top_loss_title(&self, index: usize) -> String {
        let predicted = &self.classes()[self.preds()[index]];
        let target = self.targets()[index];
        let actual = &self.classes()[target];
        let loss = self.losses()[index];
        let probability = self.probs()[index][target];
        format!("{predicted}/{actual} / {loss:.2} / {probability:.2}")
    }
}

/// Opens the image at `path` and scales and centre-crops it to a `side`-pixel square.
fn load_tile(path: &Path, side: u32) -> Result<RgbImage, InterpretError> {
    // fastburn-data's decoder, so that the plot shows images with the same size limits and colour
    // conversion (alpha dropped, grayscale replicated) as training saw them.
    let decoded = open_image(path).map_err(|source| InterpretError::OpenImage { path: path.to_path_buf(), source })?;

    let square = DynamicImage::ImageRgb8(decoded).resize_to_fill(side, side, FilterType::Triangle);
    Ok(square.to_rgb8())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Solid colours of the test images, one per item.
    const COLORS: [[u8; 3]; 4] = [[255, 0, 0], [0, 200, 0], [0, 0, 255], [250, 200, 0]];

    /// Writes one solid-colour PNG per colour (non-square, so the crop is exercised) and returns
    /// an interpretation whose losses put item 2 first, then 0, 3 and 1.
    fn solid_colour_items(directory: &Path) -> ClassificationInterpretation {
        let items: Vec<PathBuf> = COLORS
            .iter()
            .enumerate()
            .map(|(index, &color)| {
                let path = directory.join(format!("item{index}.png"));
                RgbImage::from_pixel(60, 30, Rgb(color)).save(&path).unwrap();
                path
            })
            .collect();
        let classes = vec!["cat".to_string(), "dog".to_string()];
        let probs = vec![vec![0.9, 0.1], vec![0.8, 0.2], vec![0.25, 0.75], vec![0.4, 0.6]];
        let targets = vec![1, 0, 0, 1];
        let losses = vec![2.3, 0.22, 1.39, 0.51];
        ClassificationInterpretation::new(classes, items, probs, targets, losses).unwrap()
    }

    #[test]
    fn tiles_in_loss_order() {
        let directory = tempfile::tempdir().unwrap();
        let interpretation = solid_colour_items(directory.path());
        let canvas = interpretation.render_top_losses(4).unwrap();

        let layout = TopLossesLayout::new(4);
        assert_eq!((canvas.width(), canvas.height()), (layout.width, layout.height));
        for (position, expected_item) in [0, 2, 3, 1].into_iter().enumerate() {
            let (left, top) = layout.tile_origin(position);
            for (x, y) in [(left + 1, top + 1), (left + 112, top + 112), (left + 222, top + 222)] {
                assert_eq!(*canvas.get_pixel(x, y), Rgb(COLORS[expected_item]), "tile {position} at ({x}, {y})");
            }
        }
    }

    #[test]
    fn png_has_layout_size() {
        let directory = tempfile::tempdir().unwrap();
        let interpretation = solid_colour_items(directory.path());
        let path = directory.path().join("top_losses.png");
        interpretation.plot_top_losses(3, &path).unwrap();

        let decoded = image::open(&path).unwrap().to_rgb8();
        let layout = TopLossesLayout::new(3);
        assert_eq!((decoded.width(), decoded.height()), (layout.width, layout.height));
        assert_eq!(decoded, interpretation.render_top_losses(3).unwrap());
    }

    #[test]
    fn titles_above_tiles() {
        let directory = tempfile::tempdir().unwrap();
        let interpretation = solid_colour_items(directory.path());
        assert_eq!(interpretation.top_loss_title(0), "cat/dog / 2.30 / 0.10");
        assert_eq!(interpretation.top_loss_title(2), "dog/cat / 1.39 / 0.25");

        let canvas = interpretation.render_top_losses(2).unwrap();
        let layout = TopLossesLayout::new(2);
        for position in 0..2 {
            let (left, top) = layout.tile_origin(position);
            let inked = (top - layout.title_height..top)
                .flat_map(|y| (left..left + TOP_LOSSES_TILE_SIZE).map(move |x| (x, y)))
                .filter(|&(x, y)| canvas.get_pixel(x, y).0.iter().all(|&value| value < 100))
                .count();
            assert!(inked > 50, "tile {position}: only {inked} dark pixels in its title band");
        }
    }

    #[test]
    fn grid_follows_fastai() {
        let grid = |k| {
            let layout = TopLossesLayout::new(k);
            (layout.rows, layout.cols)
        };
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(2), (1, 2));
        assert_eq!(grid(4), (2, 2));
        assert_eq!(grid(5), (2, 3));
        assert_eq!(grid(9), (3, 3));
        assert_eq!(grid(10), (3, 4));
    }

    #[test]
    fn tiles_do_not_overlap() {
        let layout = TopLossesLayout::new(9);
        let (left0, top0) = layout.tile_origin(0);
        let (left1, top1) = layout.tile_origin(1);
        let (left3, top3) = layout.tile_origin(3);
        assert_eq!(top0, top1);
        assert!(left1 >= left0 + TOP_LOSSES_TILE_SIZE);
        assert_eq!(left3, left0);
        assert!(top3 >= top0 + TOP_LOSSES_TILE_SIZE + layout.title_height);

        let (last_left, last_top) = layout.tile_origin(8);
        assert!(last_left + TOP_LOSSES_TILE_SIZE <= layout.width);
        assert!(last_top + TOP_LOSSES_TILE_SIZE <= layout.height);
    }
}
