//! Rounding to bfloat16 and packing the operands into the layouts the tiles load.

use std::cell::RefCell;

use super::{BLOCK, DEPTH, TILE};
use crate::conv::matrix::Matrix;

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

/// `u16` values in one left-operand tile: 16 rows of 32 bfloat16 values.
pub(super) const LHS_TILE: usize = TILE * DEPTH;
/// `u32` values in one right-operand tile: 16 rows of 16 bfloat16 pairs.
pub(super) const RHS_TILE: usize = TILE * TILE;

/// The left operand of a product in the tiles' layout: `rows × depth` bfloat16 values,
/// padded with zeros to whole 32-row blocks and 32-value steps. Each tile (16 rows × 32
/// values, 1 KiB) is contiguous, so that a tile load reads one kibibyte in order. The tiles
/// of a 16-row band follow each other step by step: tile `(band, step)` starts at
/// `(band × steps + step) × LHS_TILE`.
pub(crate) struct PackedLhs {
    pub(super) data: Vec<u16>,
    pub(super) rows: usize,
    pub(super) depth: usize,
}

thread_local! {
    /// Buffers of dropped packed operands, reused by the next ones on this thread: the weight
    /// gradient packs a column matrix per image.
    static LHS_BUFFERS: RefCell<Vec<Vec<u16>>> = const { RefCell::new(Vec::new()) };
}

impl PackedLhs {
    /// Packs the `rows × depth` matrix `lhs`, rounding it to bfloat16.
    pub(crate) fn new(lhs: Matrix, [rows, depth]: [usize; 2]) -> Self {
        lhs.check(rows, depth, "left operand");
        let mut data = take_buffer(rows.next_multiple_of(BLOCK) * depth.next_multiple_of(DEPTH));
        // SAFETY: `available` checked AVX-512 before any product was planned.
        unsafe { pack_lhs(&lhs, [rows, depth], &mut data) };
        Self { data, rows, depth }
    }

    /// Packs the `rows × depth` matrix whose row `r` `row(r, out)` writes into its `depth`
    /// long `out`, rounding it to bfloat16. Only one row is ever held in `f32`.
    pub(crate) fn from_rows(row: impl Fn(usize, &mut [f32]), [rows, depth]: [usize; 2]) -> Self {
        let mut data = take_buffer(rows.next_multiple_of(BLOCK) * depth.next_multiple_of(DEPTH));
        // SAFETY: `available` checked AVX-512 before any product was planned.
        unsafe { pack_lhs_rows(&row, [rows, depth], &mut data) };
        Self { data, rows, depth }
    }

    /// Returns the unpadded rows and depth.
    pub(crate) fn shape(&self) -> [usize; 2] {
        [self.rows, self.depth]
    }

    /// Returns the number of 32-value steps along the depth.
    pub(super) fn steps(&self) -> usize {
        self.depth.div_ceil(DEPTH)
    }
}

/// Returns a buffer of `len` values from this thread's spares. The packers write every
/// element, padding included, so whatever it held may stay.
fn take_buffer(len: usize) -> Vec<u16> {
    let mut data = LHS_BUFFERS
        .with(|buffers| buffers.borrow_mut().pop())
        .unwrap_or_default();
    data.resize(len, 0);
    data
}

impl Drop for PackedLhs {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        LHS_BUFFERS.with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            if buffers.len() < 2 {
                buffers.push(data);
            }
        });
    }
}

/// Writes `values` rounded to bfloat16 into the start of `out` and zeros after them.
#[inline(always)]
fn convert_into(values: &[f32], out: &mut [u16]) {
    let (head, tail) = out.split_at_mut(values.len());
    for (packed, value) in head.iter_mut().zip(values) {
        *packed = bf16_bits(*value) as u16;
    }
    tail.fill(0);
}

/// Writes row `row` of a packed left operand: `values` (at most `depth` long, zeros after
/// them) or, for a padding row, zeros.
#[inline(always)]
fn write_lhs_row(values: Option<&[f32]>, row: usize, steps: usize, out: &mut [u16]) {
    let start = (row / TILE) * steps * LHS_TILE + (row % TILE) * DEPTH;
    for step in 0..steps {
        let packed = &mut out[start + step * LHS_TILE..][..DEPTH];
        let first = step * DEPTH;
        match values {
            Some(values) if first < values.len() => {
                convert_into(&values[first..(first + DEPTH).min(values.len())], packed);
            }
            _ => packed.fill(0),
        }
    }
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512bw"))]
unsafe fn pack_lhs_rows(
    row: &impl Fn(usize, &mut [f32]),
    [rows, depth]: [usize; 2],
    out: &mut [u16],
) {
    let steps = depth.div_ceil(DEPTH);
    let mut values = vec![0.0f32; depth];
    for index in 0..rows.next_multiple_of(BLOCK) {
        let values = (index < rows).then(|| {
            row(index, &mut values);
            &values[..]
        });
        write_lhs_row(values, index, steps, out);
    }
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512bw"))]
unsafe fn pack_lhs(lhs: &Matrix, [rows, depth]: [usize; 2], out: &mut [u16]) {
    let (data, row_stride, col_stride) = lhs.parts();
    let steps = depth.div_ceil(DEPTH);
    let padded_rows = rows.next_multiple_of(BLOCK);
    let tile = |row: usize, step: usize| ((row / TILE) * steps + step) * LHS_TILE;

    if col_stride == 1 {
        for row in 0..padded_rows {
            let values = (row < rows).then(|| &data[row * row_stride..][..depth]);
            write_lhs_row(values, row, steps, out);
        }
        return;
    }

    // A transposed view: its rows are our columns, so a tile is filled column by column,
    // reading 16 adjacent values each time.
    for band in (0..padded_rows).step_by(TILE) {
        for step in 0..steps {
            let packed = &mut out[tile(band, step)..][..LHS_TILE];
            for column in 0..DEPTH {
                let inner = step * DEPTH + column;
                for r in 0..TILE {
                    let row = band + r;
                    packed[r * DEPTH + column] = match row < rows && inner < depth {
                        true => bf16_bits(data[row * row_stride + inner * col_stride]) as u16,
                        false => 0,
                    };
                }
            }
        }
    }
}

/// Packs the `depth × cols` matrix `rhs` as the tiles want it, in `steps × 16` pair rows: pair
/// row `r` contains, for each column, rows `2r` and `2r + 1` as the two bfloat16 halves of one
/// `u32`. Columns go in bands of 16, each band's pair rows contiguous, so that a tile
/// `(band, step)` is the kibibyte at `(band × steps × 16 + step × 16) × 16`.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512bw"))]
pub(super) unsafe fn pack_rhs(
    rhs: &Matrix,
    [depth, cols]: [usize; 2],
    steps: usize,
    out: &mut [u32],
) {
    let (data, row_stride, col_stride) = rhs.parts();
    let pairs = steps * TILE;
    let bands = cols.next_multiple_of(BLOCK) / TILE;
    let value = |row: usize, col: usize| match row < depth {
        true => bf16_bits(data[row * row_stride + col * col_stride]),
        false => 0,
    };

    if col_stride == 1 {
        let mut interleaved = vec![0u32; bands * TILE];
        for pair in 0..pairs {
            let row = |index: usize| (index < depth).then(|| &data[index * row_stride..][..cols]);
            interleave(row(2 * pair), row(2 * pair + 1), &mut interleaved[..cols]);
            deal(&interleaved, pair, pairs, out);
        }
        return;
    }

    // A transposed view: each of its rows is one of our columns, with the pairs adjacent.
    for band in 0..bands {
        for pair in 0..pairs {
            let packed = &mut out[(band * pairs + pair) * TILE..][..TILE];
            for (offset, packed) in packed.iter_mut().enumerate() {
                let col = band * TILE + offset;
                *packed = match col < cols {
                    true => value(2 * pair, col) | (value(2 * pair + 1, col) << 16),
                    false => 0,
                };
            }
        }
    }
}

/// Packs, as [`pack_rhs`] does, the `depth × cols` matrix whose row `r` `row(r, out)` writes
/// into its `cols` long `out`. Only two rows are ever held in `f32`.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512bw"))]
pub(super) unsafe fn pack_rhs_rows(
    row: &impl Fn(usize, &mut [f32]),
    [depth, cols]: [usize; 2],
    steps: usize,
    out: &mut [u32],
) {
    let pairs = steps * TILE;
    let bands = cols.next_multiple_of(BLOCK) / TILE;
    let mut interleaved = vec![0u32; bands * TILE];
    let (mut even, mut odd) = (vec![0.0f32; cols], vec![0.0f32; cols]);
    for pair in 0..pairs {
        let (first, second) = (2 * pair, 2 * pair + 1);
        if first < depth {
            row(first, &mut even);
        }
        if second < depth {
            row(second, &mut odd);
        }
        let even = (first < depth).then_some(&even[..]);
        let odd = (second < depth).then_some(&odd[..]);
        interleave(even, odd, &mut interleaved[..cols]);
        deal(&interleaved, pair, pairs, out);
    }
}

/// Writes the bfloat16 pairs of two rows (`None`: a padding row of zeros) into `out`.
#[inline(always)]
fn interleave(even: Option<&[f32]>, odd: Option<&[f32]>, out: &mut [u32]) {
    match (even, odd) {
        (Some(even), Some(odd)) => {
            for ((packed, even), odd) in out.iter_mut().zip(even).zip(odd) {
                *packed = bf16_bits(*even) | (bf16_bits(*odd) << 16);
            }
        }
        (Some(even), None) => {
            for (packed, even) in out.iter_mut().zip(even) {
                *packed = bf16_bits(*even);
            }
        }
        _ => out.fill(0),
    }
}

/// Copies one interleaved pair row, padded to whole bands, into its place in every band.
#[inline(always)]
fn deal(interleaved: &[u32], pair: usize, pairs: usize, out: &mut [u32]) {
    for (band, values) in interleaved.chunks_exact(TILE).enumerate() {
        out[(band * pairs + pair) * TILE..][..TILE].copy_from_slice(values);
    }
}
