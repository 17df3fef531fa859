//! Rounding to bfloat16 and packing the operands into the layouts the tiles load.

use super::{BLOCK, DEPTH};
use crate::conv::kernel::Matrix;

/// Rounds `x` to bfloat16, to nearest with ties to even as PyTorch does, and returns its 16
/// bits in the low half. NaN stays a (quiet) NaN.
#[inline(always)]
pub(super) fn bf16_bits(x: f32) -> u32 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) >> 16;
    if bits & 0x7FFF_FFFF > 0x7F80_0000 {
        (bits >> 16) | 0x40
    } else {
        rounded
    }
}

/// The left operand of a product in the tiles' layout: `rows × depth` bfloat16 values,
/// row-major, both padded with zeros to whole tiles.
pub(crate) struct PackedLhs {
    pub(super) data: Vec<u16>,
    pub(super) rows: usize,
    pub(super) depth: usize,
}

impl PackedLhs {
    /// Packs the `rows × depth` matrix `lhs`, rounding it to bfloat16.
    pub(crate) fn new(lhs: Matrix, [rows, depth]: [usize; 2]) -> Self {
        lhs.check(rows, depth, "left operand");
        let stride = depth.next_multiple_of(DEPTH);
        let mut data = vec![0u16; rows.next_multiple_of(BLOCK) * stride];
        // SAFETY: `available` checked AVX-512 before any product was planned.
        unsafe { pack_lhs(&lhs, [rows, depth], stride, &mut data) };
        Self { data, rows, depth }
    }

    /// Returns the unpadded rows and depth.
    pub(crate) fn shape(&self) -> [usize; 2] {
        [self.rows, self.depth]
    }

    /// Returns the padded depth, the distance between rows of the packed data.
    pub(super) fn stride(&self) -> usize {
        self.depth.next_multiple_of(DEPTH)
    }
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn pack_lhs(lhs: &Matrix, [rows, depth]: [usize; 2], stride: usize, out: &mut [u16]) {
    let (data, row_stride, col_stride) = lhs.parts();
    if col_stride == 1 {
        for (row, packed) in out.chunks_exact_mut(stride).take(rows).enumerate() {
            let source = &data[row * row_stride..][..depth];
            for (packed, value) in packed.iter_mut().zip(source) {
                *packed = bf16_bits(*value) as u16;
            }
        }
    } else {
        // A transposed view: read its rows (our columns) in order.
        for inner in 0..depth {
            for row in 0..rows {
                out[row * stride + inner] =
                    bf16_bits(data[row * row_stride + inner * col_stride]) as u16;
            }
        }
    }
}

/// Packs the `depth × cols` matrix `rhs` as the tiles want it: row `r` holds, for each
/// column, the pair of rows `2r` and `2r + 1` as two bfloat16 halves of one `u32`.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pack_rhs(
    rhs: &Matrix,
    [depth, cols]: [usize; 2],
    stride: usize,
    out: &mut [u32],
) {
    let (data, row_stride, col_stride) = rhs.parts();
    let pairs = depth.div_ceil(2);
    if col_stride == 1 {
        for (pair, packed) in out.chunks_exact_mut(stride).enumerate() {
            if pair >= pairs {
                packed.fill(0);
                continue;
            }
            let even = &data[2 * pair * row_stride..][..cols];
            if 2 * pair + 1 < depth {
                let odd = &data[(2 * pair + 1) * row_stride..][..cols];
                for ((packed, even), odd) in packed.iter_mut().zip(even).zip(odd) {
                    *packed = bf16_bits(*even) | (bf16_bits(*odd) << 16);
                }
            } else {
                for (packed, even) in packed.iter_mut().zip(even) {
                    *packed = bf16_bits(*even);
                }
            }
            packed[cols..].fill(0);
        }
    } else {
        // A transposed view: each of its rows is one of our columns, with the pairs adjacent.
        out.fill(0);
        for col in 0..cols {
            let source = &data[col * col_stride..];
            for pair in 0..pairs {
                let even = bf16_bits(source[2 * pair * row_stride]);
                let odd = match 2 * pair + 1 < depth {
                    true => bf16_bits(source[(2 * pair + 1) * row_stride]),
                    false => 0,
                };
                out[pair * stride + col] = even | (odd << 16);
            }
        }
    }
}
