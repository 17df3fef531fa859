//! The column matrix (im2col) of a group of images, the right operand of a convolution's
//! product and the left one of its weight gradient.
//!
//! `f32` products read it whole from a per-thread buffer. bfloat16 products never store it in
//! `f32`: they pack it row by row as [`Columns::row`] makes each row, which saves writing and
//! reading back a matrix several times the size of the L2 cache.

use gemm::Parallelism;

use super::amx::{self, PackedLhs};
use super::geometry::{ConvGeometry, Products};
use super::kernel::{WeightGradLayout, with_columns};
use super::matrix::{Lhs, Matrix};

/// The column matrix of `count` images from image `first` of `input`, side by side:
/// `column_rows × (count × output_pixels)`.
#[derive(Clone, Copy)]
pub(super) struct Columns<'a> {
    pub geometry: &'a ConvGeometry,
    pub input: &'a [f32],
    pub first: usize,
    pub count: usize,
}

impl Columns<'_> {
    /// Returns the number of columns: output pixels of all the images.
    pub fn width(&self) -> usize {
        self.count * self.geometry.output_pixels()
    }

    /// Writes row `row` into `out`, [`width`](Self::width) long.
    pub fn row(&self, row: usize, out: &mut [f32]) {
        let pixels = self.geometry.output_pixels();
        let in_len = self.geometry.input_len();
        for (image, out) in out.chunks_exact_mut(pixels).take(self.count).enumerate() {
            let image = &self.input[(self.first + image) * in_len..][..in_len];
            self.geometry.column_row(image, row, out);
        }
    }

    /// Calls `f` with the whole matrix in `f32`: the image itself for one image of a
    /// pointwise convolution, else an im2col copy in this thread's buffer.
    pub fn with_matrix(&self, f: impl FnOnce(&[f32])) {
        let in_len = self.geometry.input_len();
        if self.count == 1 && self.geometry.is_pointwise() {
            f(&self.input[self.first * in_len..][..in_len]);
            return;
        }
        let (width, pixels) = (self.width(), self.geometry.output_pixels());
        with_columns(self.geometry.column_rows() * width, |columns| {
            for image in 0..self.count {
                let source = &self.input[(self.first + image) * in_len..][..in_len];
                self.geometry
                    .im2col_block(source, columns, width, image * pixels);
            }
            f(columns);
        });
    }
}

impl Lhs<'_> {
    /// `dst = [dst +] self · columns`, `self` having `column_rows` columns.
    pub(super) fn matmul_columns(
        &self,
        dst: &mut [f32],
        accumulate: bool,
        columns: Columns,
        [rows, depth]: [usize; 2],
        parallelism: Parallelism,
    ) {
        let width = columns.width();
        match self {
            Self::Bf16(lhs) => {
                let row = |index: usize, out: &mut [f32]| columns.row(index, out);
                amx::matmul_rows(dst, accumulate, lhs, row, width, parallelism);
            }
            Self::F32(_) => columns.with_matrix(|matrix| {
                let rhs = Matrix::row_major(matrix, width);
                self.matmul(dst, accumulate, rhs, [rows, width, depth], parallelism);
            }),
        }
    }
}

/// Adds the weight gradient of the images of `columns` onto `sum`, in `layout`: `grad` is
/// their output gradient side by side, `channels × width`.
pub(super) fn accumulate_weight_grad(
    sum: &mut [f32],
    grad: &[f32],
    columns: Columns,
    layout: WeightGradLayout,
    (products, parallelism): (Products, Parallelism),
) {
    let (rows, width) = (columns.geometry.column_rows(), columns.width());
    let channels = columns.geometry.channels_out;
    match (products, layout) {
        // bfloat16 sums are always transposed: `columns · gradᵀ`.
        (Products::Bf16, _) => {
            let row = |index: usize, out: &mut [f32]| columns.row(index, out);
            let lhs = PackedLhs::from_rows(row, [rows, width]);
            let rhs = Matrix::transposed(grad, width);
            amx::matmul(sum, true, &lhs, rhs, channels, parallelism);
        }
        (Products::F32, layout) => columns.with_matrix(|matrix| {
            let shape = [channels, rows, width];
            layout.accumulate(sum, grad, matrix, shape, parallelism);
        }),
    }
}
