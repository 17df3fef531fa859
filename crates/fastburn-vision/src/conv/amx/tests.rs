//! The rounding against `half`, and the products against a reference in `f64`.

use gemm::Parallelism;

use super::pack::bf16_bits;
use super::{PackedLhs, available, matmul};
use crate::conv::matrix::Matrix;

/// Returns `x` rounded to bfloat16, as an `f32`.
fn rounded(x: f32) -> f32 {
    f32::from_bits(bf16_bits(x) << 16)
}

#[test]
fn rounds_to_nearest_even_like_half() {
    let values = [
        0.0f32,
        -0.0,
        1.0,
        1.00390625, // halfway between two bfloat16 values: ties to even
        1.01171875,
        -3.3e-5,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::INFINITY,
        f32::NEG_INFINITY,
        123456.79,
    ];
    for value in values {
        let expected = half::bf16::from_f32(value).to_f32();
        assert_eq!(rounded(value).to_bits(), expected.to_bits(), "{value}");
    }
    assert!(rounded(f32::NAN).is_nan());
    assert!(rounded(f32::from_bits(0x7FFF_FFFF)).is_nan());
    assert!(rounded(f32::from_bits(0xFF80_0001)).is_nan());
}

/// Values that are not exactly bfloat16, with a varied sign and size.
fn values(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32 - 0.5) * 3.0
        })
        .collect()
}

/// Returns the product of the bfloat16-rounded operands, summed in `f64`.
fn reference(lhs: &Matrix, rhs: &Matrix, [m, n, k]: [usize; 3]) -> Vec<f32> {
    let at = |matrix: &Matrix, row: usize, col: usize| {
        let (data, row_stride, col_stride) = matrix.parts();
        rounded(data[row * row_stride + col * col_stride]) as f64
    };
    let mut out = vec![0.0f32; m * n];
    for row in 0..m {
        for col in 0..n {
            let sum: f64 = (0..k).map(|i| at(lhs, row, i) * at(rhs, i, col)).sum();
            out[row * n + col] = sum as f32;
        }
    }
    out
}

#[test]
fn products_match_the_rounded_reference() {
    if !available() {
        eprintln!("no AMX on this processor: only the rounding is checked here");
        return;
    }
    // Odd sizes exercise the padding of every dimension; 70 × 600 × 97 spans several
    // tile steps and right-operand chunks.
    for [m, n, k] in [
        [1, 1, 1],
        [5, 3, 7],
        [32, 32, 32],
        [33, 17, 65],
        [70, 97, 600],
    ] {
        for (transpose_lhs, transpose_rhs) in [(false, false), (true, false), (false, true)] {
            let a = values(m * k, (m * 31 + k) as u32);
            let b = values(k * n, (n * 17 + k) as u32);
            let lhs = match transpose_lhs {
                true => Matrix::transposed(&a, m),
                false => Matrix::row_major(&a, k),
            };
            let rhs = match transpose_rhs {
                true => Matrix::transposed(&b, k),
                false => Matrix::row_major(&b, n),
            };
            let expected = reference(&lhs, &rhs, [m, n, k]);
            let packed = PackedLhs::new(lhs, [m, k]);

            let mut fresh = vec![f32::NAN; m * n];
            matmul(&mut fresh, false, &packed, rhs, n, Parallelism::None);
            let mut summed = vec![1.0f32; m * n];
            matmul(&mut summed, true, &packed, rhs, n, Parallelism::Rayon(2));

            for index in 0..m * n {
                let tolerance = 1e-5 * (1.0 + expected[index].abs());
                let case = format!("{m}×{n}×{k} at {index}, {transpose_lhs}/{transpose_rhs}");
                assert!(
                    (fresh[index] - expected[index]).abs() <= tolerance,
                    "{case}"
                );
                assert!(
                    (summed[index] - 1.0 - expected[index]).abs() <= 2.0 * tolerance,
                    "{case}"
                );
            }
        }
    }
}
