//! Matrix products with bfloat16 operands and `f32` sums on Intel AMX, the tile unit of
//! Sapphire Rapids and later Xeons, for convolutions under `to_bf16()` on Flex.
//!
//! The operands stay `f32` in memory: each product rounds them to bfloat16 as it packs them
//! into the tile layouts, and its results are `f32`. That is what PyTorch's bf16 autocast
//! computes for a convolution, without its casts of whole tensors.
//!
//! Rust 1.95 has neither AMX intrinsics nor AMX target features on stable, so the tile
//! instructions are inline assembly, which the assembler accepts without a target feature.
//! [`available`] checks the processor (CPUID) and requests the tile state from Linux first.

mod pack;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod tiles;
#[cfg(not(target_arch = "x86_64"))]
#[path = "no_tiles.rs"]
mod tiles;

use std::cell::RefCell;
use std::sync::OnceLock;

use gemm::Parallelism;
use rayon::prelude::*;

use super::matrix::Matrix;
pub(crate) use pack::PackedLhs;
use pack::{pack_rhs, pack_rhs_rows};
use tiles::Tiles;

/// Rows of a tile, and `f32` columns of a result tile.
const TILE: usize = 16;
/// Rows and columns of the output block one call of `Tiles::block` computes: 2 × 2 result tiles.
const BLOCK: usize = 2 * TILE;
/// bfloat16 values along the inner dimension in one operand tile row (64 bytes).
const DEPTH: usize = 32;
/// Packed right-operand bytes one pass over the left operand's row blocks reads, sized to
/// stay in a Sapphire Rapids core's 2 MiB L2 cache beside the left operand.
const RHS_CHUNK_BYTES: usize = 1 << 20;

/// Returns whether this process can run AMX bfloat16 products: the processor has AMX-TILE,
/// AMX-BF16 and AVX-512, and Linux granted the tile state. Checked once per process.
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::__cpuid_count;

    let max_leaf = __cpuid_count(0, 0).eax;
    let avx512 = std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw");
    if max_leaf < 7 || !avx512 {
        return false;
    }
    let features = __cpuid_count(7, 0).edx;
    let (amx_bf16, amx_tile) = (features & (1 << 22) != 0, features & (1 << 24) != 0);
    if !(amx_bf16 && amx_tile) {
        return false;
    }

    // Linux leaves the 8 KiB tile data out of a process's saved state until the process requests
    // it. A tile instruction before that kills the process with SIGILL.
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes this process's permissions.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

thread_local! {
    /// Each thread's packed right operand, kept between products like the column matrix.
    static PACKED_RHS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// `dst (rows × cols, row-major) = [dst +] lhs · rhs` with bfloat16 operands and `f32` sums.
/// `rhs` is `lhs.depth × cols`.
pub(crate) fn matmul(
    dst: &mut [f32],
    accumulate: bool,
    lhs: &PackedLhs,
    rhs: Matrix,
    cols: usize,
    parallelism: Parallelism,
) {
    rhs.check(lhs.depth, cols, "right operand");
    let shape = [lhs.depth, cols];
    // SAFETY: `available` checked AVX-512 before any product was planned.
    let pack = |packed: &mut [u32]| unsafe { pack_rhs(&rhs, shape, lhs.steps(), packed) };
    with_packed_rhs(dst, accumulate, lhs, (cols, parallelism), pack);
}

/// [`matmul`] with a right operand that `row(r, out)` writes row by row into its `cols`
/// long `out`: a column matrix that is packed as it is made, never stored whole in `f32`.
pub(crate) fn matmul_rows(
    dst: &mut [f32],
    accumulate: bool,
    lhs: &PackedLhs,
    row: impl Fn(usize, &mut [f32]),
    cols: usize,
    parallelism: Parallelism,
) {
    let shape = [lhs.depth, cols];
    // SAFETY: `available` checked AVX-512 before any product was planned.
    let pack = |packed: &mut [u32]| unsafe { pack_rhs_rows(&row, shape, lhs.steps(), packed) };
    with_packed_rhs(dst, accumulate, lhs, (cols, parallelism), pack);
}

/// Packs the right operand with `pack` into this thread's buffer and multiplies.
fn with_packed_rhs(
    dst: &mut [f32],
    accumulate: bool,
    lhs: &PackedLhs,
    (cols, parallelism): (usize, Parallelism),
    pack: impl FnOnce(&mut [u32]),
) {
    let rows = lhs.rows;
    assert!(
        dst.len() >= rows * cols,
        "destination smaller than {rows}×{cols}"
    );
    if rows == 0 || cols == 0 {
        return;
    }

    let stride = cols.next_multiple_of(BLOCK);
    let len = lhs.steps() * TILE * stride;
    let mut fresh = Vec::new();
    PACKED_RHS.with(|cell| {
        let mut reused = cell.try_borrow_mut();
        // A rayon thread can start another product while its own buffer is borrowed.
        let packed = match reused.as_deref_mut() {
            Ok(buffer) => buffer,
            Err(_) => &mut fresh,
        };
        if packed.len() < len {
            packed.resize(len, 0);
        }
        let packed = &mut packed[..len];
        pack(packed);
        let shape = [rows, cols, stride];
        multiply(dst, accumulate, lhs, packed, shape, parallelism);
    });
}

/// Multiplies the packed operands into `dst`, row block by row block.
fn multiply(
    dst: &mut [f32],
    accumulate: bool,
    lhs: &PackedLhs,
    rhs: &[u32],
    [rows, cols, stride]: [usize; 3],
    parallelism: Parallelism,
) {
    let dst = &mut dst[..rows * cols];
    let rhs_bytes_per_col = lhs.steps() * DEPTH * 2;
    let chunk_cols = (RHS_CHUNK_BYTES / rhs_bytes_per_col)
        .max(1)
        .next_multiple_of(BLOCK);
    let run = |row_block: usize, out: &mut [f32], col_range: std::ops::Range<usize>| {
        let tiles = Tiles::configure();
        for col in col_range.step_by(BLOCK) {
            tiles.block(
                lhs,
                rhs,
                [row_block * BLOCK, col],
                [rows, cols],
                accumulate,
                out,
            );
        }
    };

    for first in (0..stride).step_by(chunk_cols) {
        let col_range = first..(first + chunk_cols).min(stride);
        let run = |(index, out): (usize, &mut [f32])| run(index, out, col_range.clone());
        match parallelism {
            Parallelism::None => dst.chunks_mut(BLOCK * cols).enumerate().for_each(run),
            _ => dst.par_chunks_mut(BLOCK * cols).enumerate().for_each(run),
        }
    }
}
