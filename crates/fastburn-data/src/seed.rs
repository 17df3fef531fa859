//! Deterministic random number streams derived from the user's seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Stream ids that keep the draws of different purposes independent.
pub(crate) const SPLIT_STREAM: u64 = 1;
pub(crate) const MAX_ITEMS_STREAM: u64 = 2;
pub(crate) const SHUFFLE_STREAM: u64 = 3;
pub(crate) const AUGMENT_STREAM: u64 = 4;

/// Returns a generator for `(seed, stream, a, b)`, such as the augmentations of item `b` in
/// epoch `a`, so results do not depend on which thread processes which item.
pub(crate) fn rng_for(seed: u64, stream: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut state = splitmix64(seed ^ splitmix64(stream));
    state = splitmix64(state ^ a);
    state = splitmix64(state ^ b);
    ChaCha8Rng::seed_from_u64(state)
}

/// Mixes the bits of `x` with the SplitMix64 finalizer so that nearby inputs give unrelated seeds.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
