//! Stands in for `tiles.rs` on processors other than x86_64, which have no AMX. There
//! [`super::available`] returns false, so no bfloat16 product is planned and nothing here
//! runs.

use super::pack::PackedLhs;

/// The tile registers, which these processors do not have.
pub(super) struct Tiles;

/// The message of a call that [`super::available`] should have ruled out.
const UNPLANNED: &str = "AMX products run only where amx::available() returns true";

impl Tiles {
    pub(super) fn configure() -> Self {
        unreachable!("{UNPLANNED}")
    }

    pub(super) fn block(
        &self,
        _lhs: &PackedLhs,
        _rhs: &[u32],
        _at: [usize; 2],
        _shape: [usize; 2],
        _accumulate: bool,
        _out: &mut [f32],
    ) {
        unreachable!("{UNPLANNED}")
    }
}
