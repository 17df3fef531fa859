//! The sizes of one Winograd convolution and the moves between NCHW images, channels-last
//! images and tiles.
//!
//! The transforms work on runs of channels, so each image is first copied channels last
//! (`[rows, columns, channels]`) with its zero padding around it. Every tile is then 36 runs
//! at fixed strides, and every output tile 16.

use super::transform::{self, OUT, POSITIONS, TILE, TileLayout};
use crate::conv::geometry::ConvGeometry;

/// The sizes of a 3×3, stride-1 convolution as Winograd's algorithm cuts it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    /// Input rows and columns.
    pub input: [usize; 2],
    /// Zero rows above and columns left of the input.
    pub padding: [usize; 2],
    /// Output rows and columns.
    pub output: [usize; 2],
    /// Output tiles down and across: the output rounded up to whole 4×4 tiles.
    pub tiles: [usize; 2],
}

impl Shape {
    pub fn new(geometry: &ConvGeometry) -> Self {
        let output = geometry
            .output()
            .expect("conv2d rejects convolutions without output before the kernels run");
        Self {
            batch: geometry.batch,
            channels_in: geometry.channels_in,
            channels_out: geometry.channels_out,
            input: geometry.input,
            padding: geometry.padding_begin,
            output,
            tiles: output.map(|size| size.div_ceil(OUT)),
        }
    }

    pub fn tiles_per_image(&self) -> usize {
        self.tiles[0] * self.tiles[1]
    }

    pub fn input_len(&self) -> usize {
        self.channels_in * self.input[0] * self.input[1]
    }

    pub fn output_len(&self) -> usize {
        self.channels_out * self.output[0] * self.output[1]
    }

    /// Rows and columns of the padded channels-last image: every tile's 6×6 inputs. The
    /// input fits inside, because the output has `input + padding - 2` rows (and columns)
    /// and the tiles cover at least the output plus 2.
    fn padded(&self) -> [usize; 2] {
        self.tiles.map(|tiles| tiles * OUT + TILE - OUT)
    }

    pub fn padded_len(&self) -> usize {
        let [rows, columns] = self.padded();
        rows * columns * self.channels_in
    }

    /// Copies one `[channels_in, rows, columns]` image channels last into `target`, at its
    /// padding offset, with zeros everywhere else.
    pub fn pad_channels_last(&self, image: &[f32], target: &mut [f32]) {
        let [_, padded_columns] = self.padded();
        let target = &mut target[..self.padded_len()];
        target.fill(0.0);
        let placement = (padded_columns, self.padding);
        copy_channels_last(image, self.input, self.channels_in, target, placement);
    }

    /// Transforms the tiles of one padded channels-last image into `tiles`, a `[tiles, 36,
    /// channels_in]` matrix, from tile `first` on.
    pub fn transform_input(&self, image: &[f32], first: usize, tiles: &mut [f32]) {
        let [_, padded_columns] = self.padded();
        let channels = self.channels_in;
        for tile in 0..self.tiles_per_image() {
            let from = self.tile_in_image(tile, padded_columns, channels);
            let to = tile_in_matrix(first + tile, channels);
            transform::input_tile(image, from, tiles, to, channels);
        }
    }

    /// Transforms the products of one image's tiles, from tile `first` of the `count` in
    /// `products` (a `[36, count, channels_out]` matrix), into a channels-last output image.
    pub fn transform_output(
        &self,
        products: &[f32],
        (first, count): (usize, usize),
        image: &mut [f32],
    ) {
        let channels = self.channels_out;
        for tile in 0..self.tiles_per_image() {
            let from = TileLayout {
                offset: (first + tile) * channels,
                row_stride: TILE * count * channels,
                column_stride: count * channels,
            };
            let to = self.tile_in_image(tile, self.output[1], channels);
            let [rows, columns] = self.inside(tile);
            transform::output_tile(products, from, image, to, channels, rows, columns);
        }
    }

    /// Copies a channels-last output image into `[channels_out, rows, columns]` order.
    pub fn channels_first(&self, image: &[f32], target: &mut [f32]) {
        let [rows, columns] = self.output;
        let channels = self.channels_out;
        for row in 0..rows {
            let line = &image[row * columns * channels..(row + 1) * columns * channels];
            let offset = row * columns;
            transform::row_channels_first(line, target, rows * columns, offset, channels, columns);
        }
    }

    /// Copies a `[channels_out, rows, columns]` output-shaped image channels last, the
    /// reverse of [`Self::channels_first`].
    pub fn channels_last(&self, image: &[f32], target: &mut [f32]) {
        let placement = (self.output[1], [0, 0]);
        copy_channels_last(image, self.output, self.channels_out, target, placement);
    }

    /// Transforms the output-gradient tiles of one channels-last image into `tiles`, a
    /// `[tiles, 36, channels_out]` matrix, from tile `first` on. Tile positions past the
    /// output's edge get a zero gradient: the forward pass computed and dropped them.
    pub fn transform_grad_output(&self, image: &[f32], first: usize, tiles: &mut [f32]) {
        let channels = self.channels_out;
        for tile in 0..self.tiles_per_image() {
            let from = self.tile_in_image(tile, self.output[1], channels);
            let to = tile_in_matrix(first + tile, channels);
            let [rows, columns] = self.inside(tile);
            transform::grad_output_tile(image, from, tiles, to, channels, rows, columns);
        }
    }

    /// Places tile `tile` (row-major over the image's tiles) in a channels-last image with
    /// `columns` columns: its top-left pixel is the tile's first output pixel.
    fn tile_in_image(&self, tile: usize, columns: usize, channels: usize) -> TileLayout {
        let (down, across) = (tile / self.tiles[1], tile % self.tiles[1]);
        TileLayout {
            offset: (down * OUT * columns + across * OUT) * channels,
            row_stride: columns * channels,
            column_stride: channels,
        }
    }

    /// Returns the rows and columns of output tile `tile` that lie inside the output.
    fn inside(&self, tile: usize) -> [usize; 2] {
        let (down, across) = (tile / self.tiles[1], tile % self.tiles[1]);
        let [rows, columns] = self.output;
        [rows - down * OUT, columns - across * OUT].map(|left| left.min(OUT))
    }
}

/// Copies a `[channels, rows, columns]` image channels last into `target`, a channels-last
/// image `target_columns` wide, with the image's first pixel at row and column `corner`.
fn copy_channels_last(
    image: &[f32],
    [rows, columns]: [usize; 2],
    channels: usize,
    target: &mut [f32],
    (target_columns, corner): (usize, [usize; 2]),
) {
    for row in 0..rows {
        let start = ((row + corner[0]) * target_columns + corner[1]) * channels;
        let line = &mut target[start..start + columns * channels];
        let offset = row * columns;
        transform::row_channels_last(image, rows * columns, offset, line, channels, columns);
    }
}

/// Places tile `index` in a `[tiles, 36, channels]` matrix, its 36 positions as 6 rows of 6.
fn tile_in_matrix(index: usize, channels: usize) -> TileLayout {
    TileLayout {
        offset: index * POSITIONS * channels,
        row_stride: TILE * channels,
        column_stride: channels,
    }
}
