//! `plot_confusion_matrix`: the matrix as a picture with counts and class names.

use std::path::Path;

use image::{GrayImage, Rgb, RgbImage, imageops};

use crate::colormap::blues;
use crate::png::save_png_atomic;
use crate::text::{Weight, blend_mask, draw_centered, line_height, render_mask};
use crate::{ClassificationInterpretation, InterpretError};

/// Side of the whole grid that the cell size aims at, in pixels.
const GRID_TARGET_SIDE: u32 = 480;
/// Bounds on the side of one cell in pixels: large enough to show a few classes boldly, small
/// enough that a thousand classes still fit in one picture.
const MAX_CELL: u32 = 160;
const MIN_CELL: u32 = 4;
/// Cells smaller than this carry no count, because the digits would not be readable.
const MIN_CELL_WITH_COUNT: u32 = 14;

const MARGIN: u32 = 16;
const GAP: u32 = 6;
const TITLE_PX: f32 = 18.0;
const LABEL_PX: f32 = 14.0;
const MIN_LABEL_PX: f32 = 6.0;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const FRAME: Rgb<u8> = Rgb([64, 64, 64]);

/// Positions of the parts of a confusion-matrix picture, in pixels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfusionLayout {
    pub cell: u32,
    pub grid_left: u32,
    pub grid_top: u32,
    pub width: u32,
    pub height: u32,
    pub label_px: f32,
}

impl ConfusionLayout {
    /// Lays out a picture for `classes` (at least one), with class-name labels as wide as the
    /// widest of `label_masks`.
    fn new(classes: usize, title_width: u32, label_masks: &[GrayImage], label_px: f32, cell: u32) -> Self {
        let label_extent = label_masks.iter().map(|mask| mask.width()).max().unwrap_or(0);
        let axis_label_height = line_height(LABEL_PX, Weight::Regular);
        let title_height = line_height(TITLE_PX, Weight::Bold) + 2 * GAP;
        let grid_side = cell * classes as u32;

        let grid_left = MARGIN + axis_label_height + GAP + label_extent + GAP;
        let grid_top = MARGIN + title_height;
        let width = (grid_left + grid_side + MARGIN).max(title_width + 2 * MARGIN);
        let height = grid_top + grid_side + GAP + label_extent + GAP + axis_label_height + MARGIN;
        Self { cell, grid_left, grid_top, width, height, label_px }
    }
}

/// Cell side for a matrix of `classes` classes.
fn cell_size(classes: usize) -> u32 {
    let classes = u32::try_from(classes).unwrap_or(u32::MAX).max(1);
    (GRID_TARGET_SIDE / classes).clamp(MIN_CELL, MAX_CELL)
}

impl ClassificationInterpretation {
    /// Draws the confusion matrix into a PNG at `path`, as fastai's `plot_confusion_matrix` does.
    ///
    /// Cells are shaded from white to dark blue by count and show their count. Class names run
    /// along both axes, with "Actual" for the rows and "Predicted" for the columns.
    ///
    /// With many classes the cells shrink; below 14 pixels they carry no count.
    ///
    /// # Errors
    /// [`InterpretError::Encode`] or [`InterpretError::Write`] naming `path`. The file is written
    /// through a temporary file and a rename, so it is never left half-written.
    pub fn plot_confusion_matrix(&self, path: impl AsRef<Path>) -> Result<(), InterpretError> {
        let canvas = self.render_confusion_matrix().0;
        save_png_atomic(&canvas, path.as_ref())
    }

    /// Draws the confusion-matrix picture and returns it with its layout.
    pub(crate) fn render_confusion_matrix(&self) -> (RgbImage, ConfusionLayout) {
        let matrix = self.confusion_matrix();
        let classes = self.classes().len();
        let cell = cell_size(classes);

        // Labels shrink with the cells so that neighbouring names do not overlap.
        let label_px = (cell as f32 * 0.8).clamp(MIN_LABEL_PX, LABEL_PX);
        let label_masks: Vec<GrayImage> =
            self.classes().iter().map(|name| render_mask(name, label_px, Weight::Regular)).collect();
        let title = render_mask("Confusion matrix", TITLE_PX, Weight::Bold);
        let layout = ConfusionLayout::new(classes, title.width(), &label_masks, label_px, cell);

        let mut canvas = RgbImage::from_pixel(layout.width, layout.height, WHITE);
        blend_mask(&mut canvas, &title, i64::from((layout.width - title.width()) / 2), i64::from(MARGIN + GAP), BLACK);

        draw_cells(&mut canvas, &layout, &matrix);
        draw_labels(&mut canvas, &layout, &label_masks);
        (canvas, layout)
    }
}

/// Fills the cells by count and writes the counts, white on dark cells as matplotlib does.
fn draw_cells(canvas: &mut RgbImage, layout: &ConfusionLayout, matrix: &[Vec<usize>]) {
    let max_count = matrix.iter().flatten().copied().max().unwrap_or(0);
    let threshold = max_count as f32 / 2.0;
    let count_px = (layout.cell as f32 * 0.3).clamp(8.0, 28.0);
    let count_height = line_height(count_px, Weight::Regular);

    for (row, counts) in matrix.iter().enumerate() {
        for (column, &count) in counts.iter().enumerate() {
            let left = layout.grid_left + column as u32 * layout.cell;
            let top = layout.grid_top + row as u32 * layout.cell;
            let shade = if max_count == 0 { 0.0 } else { count as f32 / max_count as f32 };
            fill_rect(canvas, left, top, layout.cell, layout.cell, blues(shade));

            if layout.cell >= MIN_CELL_WITH_COUNT {
                let color = if count as f32 > threshold { WHITE } else { BLACK };
                let center_x = i64::from(left + layout.cell / 2);
                let text_top = i64::from(top + layout.cell / 2) - i64::from(count_height / 2);
                draw_centered(canvas, &count.to_string(), count_px, Weight::Regular, center_x, text_top, color);
            }
        }
    }

    let side = layout.cell * matrix.len() as u32;
    draw_frame(canvas, layout.grid_left, layout.grid_top, side, side, FRAME);
}

/// Writes the class names beside the rows and, turned upwards, under the columns, then the axis
/// names "Actual" and "Predicted".
fn draw_labels(canvas: &mut RgbImage, layout: &ConfusionLayout, label_masks: &[GrayImage]) {
    let grid_side = layout.cell * label_masks.len() as u32;
    for (index, mask) in label_masks.iter().enumerate() {
        let cell_center = i64::from(layout.cell * index as u32 + layout.cell / 2);

        let row_x = i64::from(layout.grid_left - GAP - mask.width());
        let row_y = i64::from(layout.grid_top) + cell_center - i64::from(mask.height() / 2);
        blend_mask(canvas, mask, row_x, row_y, BLACK);

        // Rotated a quarter turn counter-clockwise, the name reads upwards and ends at the grid.
        let turned = imageops::rotate270(mask);
        let column_x = i64::from(layout.grid_left) + cell_center - i64::from(turned.width() / 2);
        let column_y = i64::from(layout.grid_top + grid_side + GAP);
        blend_mask(canvas, &turned, column_x, column_y, BLACK);
    }

    let grid_center_x = i64::from(layout.grid_left + grid_side / 2);
    let axis_height = line_height(LABEL_PX, Weight::Regular);
    let predicted_top = i64::from(layout.height - MARGIN - axis_height);
    draw_centered(canvas, "Predicted", LABEL_PX, Weight::Regular, grid_center_x, predicted_top, BLACK);

    let actual = imageops::rotate270(&render_mask("Actual", LABEL_PX, Weight::Regular));
    let actual_y = i64::from(layout.grid_top + grid_side / 2) - i64::from(actual.height() / 2);
    blend_mask(canvas, &actual, i64::from(MARGIN), actual_y, BLACK);
}

/// Fills a rectangle, clipped to the canvas.
pub(crate) fn fill_rect(canvas: &mut RgbImage, left: u32, top: u32, width: u32, height: u32, color: Rgb<u8>) {
    let right = (left + width).min(canvas.width());
    let bottom = (top + height).min(canvas.height());
    for y in top..bottom {
        for x in left..right {
            canvas.put_pixel(x, y, color);
        }
    }
}

/// Draws a one-pixel outline just outside a rectangle, clipped to the canvas.
fn draw_frame(canvas: &mut RgbImage, left: u32, top: u32, width: u32, height: u32, color: Rgb<u8>) {
    let outer_left = left.saturating_sub(1);
    let outer_top = top.saturating_sub(1);
    let outer_width = width + (left - outer_left) + 1;
    let outer_height = height + (top - outer_top) + 1;
    fill_rect(canvas, outer_left, outer_top, outer_width, 1, color);
    fill_rect(canvas, outer_left, outer_top + outer_height - 1, outer_width, 1, color);
    fill_rect(canvas, outer_left, outer_top, 1, outer_height, color);
    fill_rect(canvas, outer_left + outer_width - 1, outer_top, 1, outer_height, color);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Three classes; actual a: 3 predicted a, 1 predicted b; actual b: 2 predicted b; c: none.
    fn sample() -> ClassificationInterpretation {
        let classes = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let rows = [[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1]];
        let targets = vec![0, 0, 0, 0, 1, 1];
        let probs: Vec<Vec<f32>> = rows.iter().map(|row| row.to_vec()).collect();
        let items = (0..probs.len()).map(|i| PathBuf::from(format!("item{i}.png"))).collect();
        let losses = vec![0.1; probs.len()];
        ClassificationInterpretation::new(classes, items, probs, targets, losses).unwrap()
    }

    #[test]
    fn cell_size_bounds() {
        assert_eq!(cell_size(1), MAX_CELL);
        assert_eq!(cell_size(3), 160);
        assert_eq!(cell_size(10), 48);
        assert_eq!(cell_size(1000), MIN_CELL);
    }

    #[test]
    fn cells_shaded_by_count() {
        let interpretation = sample();
        assert_eq!(interpretation.confusion_matrix(), vec![vec![3, 1, 0], vec![0, 2, 0], vec![0, 0, 0]]);
        let (canvas, layout) = interpretation.render_confusion_matrix();

        // A pixel just inside each cell's top-left corner, clear of the centred count.
        let corner = |row: u32, column: u32| {
            *canvas.get_pixel(layout.grid_left + column * layout.cell + 3, layout.grid_top + row * layout.cell + 3)
        };
        assert_eq!(corner(0, 0), blues(1.0), "largest count is darkest");
        assert_eq!(corner(1, 1), blues(2.0 / 3.0));
        assert_eq!(corner(0, 1), blues(1.0 / 3.0));
        assert_eq!(corner(2, 2), blues(0.0), "zero count is lightest");
        assert_eq!(corner(1, 0), blues(0.0));
    }

    #[test]
    fn counts_drawn_in_contrasting_colour() {
        let interpretation = sample();
        let (canvas, layout) = interpretation.render_confusion_matrix();
        let cell_pixels = |row: u32, column: u32| {
            let left = layout.grid_left + column * layout.cell;
            let top = layout.grid_top + row * layout.cell;
            (top..top + layout.cell).flat_map(move |y| (left..left + layout.cell).map(move |x| (x, y)))
        };

        // The darkest cell (count 3, above half the maximum) has white digits on dark blue.
        let white = cell_pixels(0, 0).filter(|&(x, y)| *canvas.get_pixel(x, y) == WHITE).count();
        assert!(white > 10, "expected white digits in the darkest cell, found {white} white pixels");

        // A light cell (count 1) has dark digits.
        let dark = cell_pixels(0, 1).filter(|&(x, y)| canvas.get_pixel(x, y).0.iter().all(|&v| v < 80)).count();
        assert!(dark > 10, "expected dark digits in a light cell, found {dark} dark pixels");
    }

    #[test]
    fn png_has_layout_size() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("confusion_matrix.png");
        let interpretation = sample();
        interpretation.plot_confusion_matrix(&path).unwrap();

        let decoded = image::open(&path).unwrap().to_rgb8();
        let (canvas, layout) = interpretation.render_confusion_matrix();
        assert_eq!((decoded.width(), decoded.height()), (layout.width, layout.height));
        assert_eq!(decoded, canvas);
    }

    #[test]
    fn picture_holds_grid_and_labels() {
        let (canvas, layout) = sample().render_confusion_matrix();
        assert_eq!((canvas.width(), canvas.height()), (layout.width, layout.height));
        assert!(layout.grid_left + 3 * layout.cell + MARGIN <= layout.width);
        assert!(layout.grid_top + 3 * layout.cell + MARGIN < layout.height);

        // Something (the row labels and "Actual") is drawn left of the grid.
        let inked_left = (0..layout.grid_left)
            .flat_map(|x| (layout.grid_top..layout.grid_top + 3 * layout.cell).map(move |y| (x, y)))
            .filter(|&(x, y)| *canvas.get_pixel(x, y) != WHITE)
            .count();
        assert!(inked_left > 20, "expected row labels left of the grid");
    }
}
