//! Matrix views of `f32` slices and the products of the convolutions: `f32` on gemm, or
//! bfloat16 on the AMX tiles when a convolution's products are [`Products::Bf16`].

use gemm::{Parallelism, gemm};

use super::amx::{self, PackedLhs};
use super::geometry::Products;

/// A matrix view of a slice, by its row and column strides. The slice keeps its length so
/// that [`matmul`] can check every view against the shape it is used with.
#[derive(Clone, Copy)]
pub(super) struct Matrix<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    pub(super) fn row_major(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Views `data` as a row-major matrix whose rows start `row_stride` elements apart.
    pub(super) fn strided(data: &'a [f32], row_stride: usize) -> Self {
        Self {
            data,
            row_stride,
            col_stride: 1,
        }
    }

    /// Views `data`, a row-major matrix with `cols` columns, as its transpose.
    pub(super) fn transposed(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }

    /// Returns the slice, the row stride and the column stride.
    pub(super) fn parts(&self) -> (&'a [f32], usize, usize) {
        (self.data, self.row_stride, self.col_stride)
    }

    /// Panics unless every element of a `rows × cols` view lies inside the slice.
    pub(super) fn check(&self, rows: usize, cols: usize, name: &str) {
        if rows == 0 || cols == 0 {
            return;
        }
        let last = (rows - 1) * self.row_stride + (cols - 1) * self.col_stride;
        assert!(
            last < self.data.len(),
            "{name}: a {rows}×{cols} view needs {} elements, the slice has {}",
            last + 1,
            self.data.len()
        );
    }
}

/// `dst (m × n, row-major) = [dst +] lhs (m × k) · rhs (k × n)`.
pub(super) fn matmul(
    dst: &mut [f32],
    accumulate: bool,
    lhs: Matrix,
    rhs: Matrix,
    [m, n, k]: [usize; 3],
    parallelism: Parallelism,
) {
    assert!(dst.len() >= m * n, "destination smaller than {m}×{n}");
    lhs.check(m, k, "left operand");
    rhs.check(k, n, "right operand");
    // SAFETY: `dst` contains m × n elements, and every element the strides of `lhs` and
    // `rhs` reach lies inside their slices (both checked above).
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The left operand of products in a given precision, packed once for all of them when the
/// products are bfloat16 (the weight of a convolution is the same for every image).
pub(super) enum Lhs<'a> {
    /// Multiplied in `f32` by gemm, which packs it per product.
    F32(Matrix<'a>),
    /// Rounded to bfloat16 and packed for the AMX tiles.
    Bf16(PackedLhs),
}

impl<'a> Lhs<'a> {
    /// Prepares the `rows × depth` matrix `lhs` for products in `products`.
    pub(super) fn new(lhs: Matrix<'a>, [rows, depth]: [usize; 2], products: Products) -> Self {
        match products {
            Products::Bf16 => Self::Bf16(PackedLhs::new(lhs, [rows, depth])),
            Products::F32 => Self::F32(lhs),
        }
    }

    /// `dst (m × n, row-major) = [dst +] self (m × k) · rhs (k × n)`.
    pub(super) fn matmul(
        &self,
        dst: &mut [f32],
        accumulate: bool,
        rhs: Matrix,
        [m, n, k]: [usize; 3],
        parallelism: Parallelism,
    ) {
        match self {
            Self::F32(lhs) => matmul(dst, accumulate, *lhs, rhs, [m, n, k], parallelism),
            Self::Bf16(lhs) => {
                assert_eq!(lhs.shape(), [m, k], "packed left operand of another shape");
                amx::matmul(dst, accumulate, lhs, rhs, n, parallelism);
            }
        }
    }
}
