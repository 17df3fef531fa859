//! The AMX tile registers and the 32 × 32 block of products they compute, in inline
//! assembly.

use std::arch::asm;

use super::pack::{LHS_TILE, PackedLhs, RHS_TILE};
use super::{BLOCK, TILE};

/// Bytes between the rows of a packed tile: its rows are contiguous.
const TILE_ROW_BYTES: usize = 64;

/// The tile registers of this thread, configured as 8 tiles of 16 rows × 64 bytes and
/// released again on drop.
pub(super) struct Tiles;

/// The 64-byte tile configuration `ldtilecfg` reads (palette 1).
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl Tiles {
    pub(super) fn configure() -> Self {
        let mut config = TileConfig([0; 64]);
        config.0[0] = 1;
        for tile in 0..8 {
            config.0[16 + 2 * tile] = 64;
            config.0[48 + tile] = TILE as u8;
        }
        // SAFETY: `available` is true (every caller planned the product after checking it), and
        // the configuration is a valid palette-1 layout.
        unsafe { asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack, readonly)) };
        Tiles
    }

    /// Computes the `BLOCK × BLOCK` output block at `[row, col]` over the whole depth and
    /// writes (or adds) its part inside `rows × cols` to `out`, the rows of its row block.
    pub(super) fn block(
        &self,
        lhs: &PackedLhs,
        rhs: &[u32],
        [row, col]: [usize; 2],
        [rows, cols]: [usize; 2],
        accumulate: bool,
        out: &mut [f32],
    ) {
        let steps = lhs.steps();
        let pairs = steps * TILE;
        let a = &lhs.data[(row / TILE) * steps * LHS_TILE..][..2 * steps * LHS_TILE];
        let b = &rhs[(col / TILE) * pairs * TILE..][..2 * pairs * TILE];
        // SAFETY: both offsets stay inside the slices above (the second band of each).
        let operands = unsafe {
            let (a0, b0) = (a.as_ptr(), b.as_ptr());
            (
                a0,
                a0.add(steps * LHS_TILE),
                b0,
                b0.add(pairs * TILE),
                steps,
            )
        };

        // A whole block goes straight between the tiles and `out`. A block on the edge of
        // the output goes through a local block.
        let (valid_rows, valid_cols) = ((rows - row).min(BLOCK), (cols - col).min(BLOCK));
        if valid_rows == BLOCK && valid_cols == BLOCK {
            let target = &mut out[col..];
            assert!(
                target.len() >= (BLOCK - 1) * cols + BLOCK,
                "output block out of range"
            );
            // SAFETY: `target` contains 32 rows of 32 values at a row stride of `cols` (checked
            // above), and the operands were checked above.
            unsafe { multiply_block(operands, (target.as_mut_ptr(), cols * 4), accumulate) };
            return;
        }

        let mut result = std::mem::MaybeUninit::<Result>::uninit();
        let local = result.as_mut_ptr().cast::<f32>();
        // SAFETY: the local block has room for 32 rows of 32 values. Nothing is loaded from it, and
        // the stores fill it whole before it is read.
        let result = unsafe {
            multiply_block(operands, (local, BLOCK * 4), false);
            result.assume_init()
        };
        for (r, values) in result.0.chunks_exact(BLOCK).take(valid_rows).enumerate() {
            let target = &mut out[r * cols + col..][..valid_cols];
            if accumulate {
                target.iter_mut().zip(values).for_each(|(t, v)| *t += v);
            } else {
                target.copy_from_slice(&values[..valid_cols]);
            }
        }
    }
}

/// Runs one 32 × 32 block: sets the four result tiles to the block at `c` (or to zero), adds
/// the products of `steps` tile steps of the operands, and stores the tiles back to `c`.
///
/// # Safety
///
/// The tiles must be configured ([`Tiles::configure`]). `a0` and `a1` must each start `steps`
/// packed left-operand tiles in a row, `b0` and `b1` `steps` right-operand tiles, and `c`
/// must hold 32 rows of 32 `f32` at `c_bytes` apart.
unsafe fn multiply_block(
    (a0, a1, b0, b1, steps): (*const u16, *const u16, *const u32, *const u32, usize),
    (c, c_bytes): (*mut f32, usize),
    load: bool,
) {
    // SAFETY: every address below lies in the ranges the caller vouches for.
    unsafe {
        let c01 = c.add(TILE);
        let c10 = c.byte_add(TILE * c_bytes);
        let c11 = c10.add(TILE);
        if load {
            asm!(
                "tileloadd tmm0, [{c00} + {sc}*1]",
                "tileloadd tmm1, [{c01} + {sc}*1]",
                "tileloadd tmm2, [{c10} + {sc}*1]",
                "tileloadd tmm3, [{c11} + {sc}*1]",
                c00 = in(reg) c, c01 = in(reg) c01, c10 = in(reg) c10, c11 = in(reg) c11,
                sc = in(reg) c_bytes,
                options(nostack, readonly),
            );
        } else {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem)
            );
        }
        for step in 0..steps {
            let (a0, a1) = (a0.add(step * LHS_TILE), a1.add(step * LHS_TILE));
            let (b0, b1) = (b0.add(step * RHS_TILE), b1.add(step * RHS_TILE));
            asm!(
                "tileloadd tmm4, [{a0} + {sa}*1]",
                "tileloadd tmm6, [{b0} + {sb}*1]",
                "tileloadd tmm7, [{b1} + {sb}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm5, [{a1} + {sa}*1]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                a0 = in(reg) a0, a1 = in(reg) a1, b0 = in(reg) b0, b1 = in(reg) b1,
                sa = in(reg) TILE_ROW_BYTES, sb = in(reg) TILE_ROW_BYTES,
                options(nostack, readonly),
            );
        }
        asm!(
            "tilestored [{c00} + {sc}*1], tmm0",
            "tilestored [{c01} + {sc}*1], tmm1",
            "tilestored [{c10} + {sc}*1], tmm2",
            "tilestored [{c11} + {sc}*1], tmm3",
            c00 = in(reg) c, c01 = in(reg) c01, c10 = in(reg) c10, c11 = in(reg) c11,
            sc = in(reg) c_bytes,
            options(nostack),
        );
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: releasing the tiles is always allowed once they are configured.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
}

/// One output block, aligned for the tile stores.
#[repr(C, align(64))]
struct Result([f32; BLOCK * BLOCK]);
