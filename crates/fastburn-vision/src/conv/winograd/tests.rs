//! Winograd's convolution and both its gradients against a direct `f64` sum, over sizes that are
//! and are not whole tiles, channel counts that are and are not whole vector blocks, uneven
//! padding and grouped images.

use super::{backward_input, backward_weight, forward};
use crate::conv::Activation;
use crate::conv::geometry::{ConvGeometry, Products};
use crate::conv::kernel::Epilogue;

/// Values in [-1, 1) from a fixed linear congruential sequence, so failures repeat.
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn geometry(
    batch: usize,
    [inputs, outputs]: [usize; 2],
    input: [usize; 2],
    padding: [[usize; 2]; 2],
) -> ConvGeometry {
    ConvGeometry {
        batch,
        channels_in: inputs,
        input,
        channels_out: outputs,
        kernel: [3, 3],
        stride: [1, 1],
        padding_begin: padding[0],
        padding_end: padding[1],
        dilation: [1, 1],
        products: Products::F32,
    }
}

/// Calls `visit(output, input, weight)` with the indices of every product of the direct
/// sum: `output[n][o][y][x]` gets `input[n][c][y + i - top][x + j - left] ·
/// weight[o][c][i][j]`, for the inputs inside the image.
fn for_each_product(geometry: &ConvGeometry, mut visit: impl FnMut(usize, usize, usize)) {
    let [rows, columns] = geometry.input;
    let [out_rows, out_columns] = geometry.output().unwrap();
    let [top, left] = geometry.padding_begin;
    let (inputs, outputs) = (geometry.channels_in, geometry.channels_out);
    for n in 0..geometry.batch {
        for o in 0..outputs {
            for y in 0..out_rows {
                for x in 0..out_columns {
                    let output = ((n * outputs + o) * out_rows + y) * out_columns + x;
                    for c in 0..inputs {
                        for (i, j) in (0..3).flat_map(|i| (0..3).map(move |j| (i, j))) {
                            let (row, column) =
                                ((y + i).wrapping_sub(top), (x + j).wrapping_sub(left));
                            if row < rows && column < columns {
                                let input = ((n * inputs + c) * rows + row) * columns + column;
                                visit(output, input, ((o * inputs + c) * 3 + i) * 3 + j);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Computes the convolution as a direct sum in `f64`, with zeros outside the input.
fn direct(geometry: &ConvGeometry, input: &[f32], weight: &[f32]) -> Vec<f64> {
    let [rows, columns] = geometry.output().unwrap();
    let mut output = vec![0.0f64; geometry.batch * geometry.channels_out * rows * columns];
    for_each_product(geometry, |o, i, w| {
        output[o] += f64::from(input[i]) * f64::from(weight[w]);
    });
    output
}

/// Computes the input gradient as a direct sum in `f64`: each product's output gradient
/// times its tap.
fn direct_input_grad(geometry: &ConvGeometry, weight: &[f32], grad_output: &[f32]) -> Vec<f64> {
    let mut grad = vec![0.0f64; geometry.batch * geometry.input_len()];
    for_each_product(geometry, |o, i, w| {
        grad[i] += f64::from(grad_output[o]) * f64::from(weight[w]);
    });
    grad
}

/// Computes the weight gradient as a direct sum in `f64`: each product's output gradient
/// times its input.
fn direct_weight_grad(geometry: &ConvGeometry, input: &[f32], grad_output: &[f32]) -> Vec<f64> {
    let mut grad = vec![0.0f64; geometry.channels_out * geometry.channels_in * 9];
    for_each_product(geometry, |o, i, w| {
        grad[w] += f64::from(grad_output[o]) * f64::from(input[i]);
    });
    grad
}

/// Returns the largest difference relative to the largest expected magnitude.
fn relative_error(actual: &[f32], expected: &[f64]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    let scale = expected
        .iter()
        .fold(1e-12f64, |max, value| max.max(value.abs()));
    let diff = actual
        .iter()
        .zip(expected)
        .fold(0.0f64, |max, (a, e)| max.max((f64::from(*a) - e).abs()));
    diff / scale
}

/// Batch, [input, output] channels, input size, [begin, end] padding.
type Case = (usize, [usize; 2], [usize; 2], [[usize; 2]; 2]);

const CASES: [Case; 8] = [
    // Whole tiles, whole vector blocks: ResNet's padding of 1.
    (2, [16, 16], [8, 8], [[1, 1], [1, 1]]),
    // Partial tiles on both axes and partial channel blocks on both sides.
    (3, [17, 33], [7, 10], [[1, 1], [1, 1]]),
    // No padding, and uneven padding up to 2.
    (1, [16, 20], [9, 6], [[0, 0], [0, 0]]),
    (2, [20, 16], [5, 11], [[2, 0], [1, 2]]),
    // Output smaller than one tile, and a one-pixel input.
    (5, [16, 16], [3, 2], [[1, 1], [1, 1]]),
    (4, [16, 18], [1, 1], [[1, 1], [1, 1]]),
    // Many small images: several images share one product.
    (9, [16, 16], [4, 4], [[1, 1], [1, 1]]),
    // ResNet34's channel counts, where each product sums hundreds of terms.
    (2, [256, 128], [7, 9], [[1, 1], [1, 1]]),
];

/// Runs `test` in rayon pools of 1, 2 and 4 threads: the images are grouped and spread over
/// the threads differently in each.
fn in_pools(test: impl Fn(usize) + Sync) {
    for threads in [1, 2, 4] {
        pool(threads).install(|| test(threads));
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

#[test]
fn forward_matches_direct_sum() {
    in_pools(|threads| {
        for (index, &(batch, channels, input, padding)) in CASES.iter().enumerate() {
            let geometry = geometry(batch, channels, input, padding);
            let x = values(batch * geometry.input_len(), index as u64);
            let w = values(channels[1] * channels[0] * 9, 100 + index as u64);
            let [rows, columns] = geometry.output().unwrap();
            let mut output = vec![f32::NAN; batch * channels[1] * rows * columns];
            forward(&geometry, &x, &w, None, &mut output);

            let error = relative_error(&output, &direct(&geometry, &x, &w));
            assert!(
                error < 1e-5,
                "case {index}, {threads} threads: output differs by {error} relative"
            );
        }
    });
}

#[test]
fn forward_pads_beyond_two() {
    // Padding wider than the kernel reaches: whole output rows see only zeros.
    let geometry = geometry(2, [16, 16], [4, 5], [[3, 0], [0, 3]]);
    let x = values(2 * geometry.input_len(), 7);
    let w = values(16 * 16 * 9, 8);
    let [rows, columns] = geometry.output().unwrap();
    let mut output = vec![f32::NAN; 2 * 16 * rows * columns];
    forward(&geometry, &x, &w, None, &mut output);

    let error = relative_error(&output, &direct(&geometry, &x, &w));
    assert!(error < 1e-5, "output differs by {error} relative");
}

#[test]
fn input_grad_matches_direct_sum() {
    in_pools(|threads| {
        for (index, &(batch, channels, input, padding)) in CASES.iter().enumerate() {
            let geometry = geometry(batch, channels, input, padding);
            let [rows, columns] = geometry.output().unwrap();
            let grad_output = values(batch * channels[1] * rows * columns, 200 + index as u64);
            let w = values(channels[1] * channels[0] * 9, 300 + index as u64);
            let mut grad_input = vec![f32::NAN; batch * geometry.input_len()];
            backward_input(&geometry, &w, &grad_output, &mut grad_input);

            let expected = direct_input_grad(&geometry, &w, &grad_output);
            let error = relative_error(&grad_input, &expected);
            assert!(
                error < 1e-5,
                "case {index}, {threads} threads: input gradient differs by {error} relative"
            );
        }
    });
}

#[test]
fn weight_grad_matches_direct_sum() {
    let mut cases = CASES.to_vec();
    cases.push((2, [16, 16], [4, 5], [[3, 0], [0, 3]]));
    in_pools(|threads| {
        for (index, &(batch, channels, input, padding)) in cases.iter().enumerate() {
            let geometry = geometry(batch, channels, input, padding);
            let [rows, columns] = geometry.output().unwrap();
            let x = values(batch * geometry.input_len(), 400 + index as u64);
            let grad_output = values(batch * channels[1] * rows * columns, 500 + index as u64);
            let mut grad_weight = vec![f32::NAN; channels[1] * channels[0] * 9];
            backward_weight(&geometry, &x, &grad_output, &mut grad_weight);

            let expected = direct_weight_grad(&geometry, &x, &grad_output);
            let error = relative_error(&grad_weight, &expected);
            assert!(
                error < 1e-5,
                "case {index}, {threads} threads: weight gradient differs by {error} relative"
            );
        }
    });
}

#[test]
fn weight_grad_with_capped_sums() {
    // 512 channels on 8 threads: the partial sums would take 8 · 36 MiB, over the cap, so 7
    // tasks sum and their products share the threads.
    let geometry = geometry(8, [512, 512], [2, 2], [[1, 1], [1, 1]]);
    let x = values(8 * geometry.input_len(), 31);
    let grad_output = values(8 * 512 * 4, 32);
    let mut grad_weight = vec![f32::NAN; 512 * 512 * 9];
    pool(8).install(|| backward_weight(&geometry, &x, &grad_output, &mut grad_weight));

    let expected = direct_weight_grad(&geometry, &x, &grad_output);
    let error = relative_error(&grad_weight, &expected);
    assert!(error < 1e-5, "weight gradient differs by {error} relative");
}

#[test]
fn epilogue_applies_per_image() {
    // Bias, residual and ReLU on grouped images: each image must get its own residual.
    let geometry = geometry(9, [16, 24], [4, 4], [[1, 1], [1, 1]]);
    let x = values(9 * geometry.input_len(), 21);
    let w = values(24 * 16 * 9, 22);
    let bias = values(24, 23);
    let output_len = 9 * 24 * 16;
    let residual = values(output_len, 24);
    let epilogue = Epilogue {
        bias: &bias,
        residual: Some(&residual),
        activation: Activation::Relu,
    };

    let expected: Vec<f64> = direct(&geometry, &x, &w)
        .iter()
        .enumerate()
        .map(|(at, sum)| {
            let channel = (at / 16) % 24;
            (sum + f64::from(bias[channel]) + f64::from(residual[at])).max(0.0)
        })
        .collect();
    in_pools(|threads| {
        let mut output = vec![f32::NAN; output_len];
        forward(&geometry, &x, &w, Some(&epilogue), &mut output);
        let error = relative_error(&output, &expected);
        assert!(
            error < 1e-5,
            "{threads} threads: output differs by {error} relative"
        );
    });
}

#[test]
fn non_finite_inputs_propagate() {
    // A NaN input makes the outputs that read it NaN. The transforms spread it over the
    // whole output tiles whose inputs include it, but no further.
    let geometry = geometry(1, [16, 16], [8, 8], [[1, 1], [1, 1]]);
    let mut x = values(geometry.input_len(), 11);
    x[3 * 64 + 2 * 8 + 5] = f32::NAN;
    let w = values(16 * 16 * 9, 12);
    let mut output = vec![0.0f32; 16 * 64];
    forward(&geometry, &x, &w, None, &mut output);

    let plane = &output[..64];
    assert!(
        plane[2 * 8 + 5].is_nan(),
        "the output over the NaN input is {}",
        plane[2 * 8 + 5]
    );
    assert!(
        output.iter().any(|value| value.is_finite()),
        "NaN spread to every output"
    );
}
