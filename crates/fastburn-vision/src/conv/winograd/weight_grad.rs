//! The weight gradient of a Winograd convolution.
//!
//! Each output tile is `Aᵀ [Σ_c U_c ⊙ V_c] A`, so the gradient of the transformed kernel
//! `U_c` is the sum over tiles of `(A dY Aᵀ) ⊙ V_c`: one matrix product per position, input
//! channels × tiles times tiles × output channels, summed over the batch. The kernel's own
//! gradient is then `Gᵀ dU G`. This is the exact gradient of the forward computation, so it
//! equals the direct sum's to rounding.

use gemm::Parallelism;

use super::layout::Shape;
use super::transform::{self, KernelLayout, POSITIONS, TILE, TileLayout};
use super::{group_size, plan, with_group_scratch};
use crate::conv::kernel::sum_in_parallel;
use crate::conv::matrix::{Matrix, matmul};

/// Computes the weight gradient, the sum over images of each tap's input times the output
/// gradient, for a convolution that [`super::applies`] to.
pub(in crate::conv) fn backward_weight(
    geometry: &crate::conv::geometry::ConvGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    let shape = Shape::new(geometry);
    let group = group_size(shape.batch, shape.tiles_per_image());
    let groups = shape.batch.div_ceil(group);
    let len = POSITIONS * shape.channels_in * shape.channels_out;

    // Each task sums into its own `[36, channels_in, channels_out]` buffer, four times the
    // weight's size (36 MiB for a 512-channel layer). With many threads, fewer tasks than
    // threads sum, and their products share the threads instead.
    let threads = rayon::current_num_threads().max(1);
    let parts = sum_parts(threads, len);
    let (over_groups, parallelism) = plan(groups);
    let parallelism = if over_groups && parts < threads {
        Parallelism::Rayon(threads.div_ceil(parts))
    } else {
        parallelism
    };

    let accumulate = |index: usize, sum: &mut [f32]| {
        let first = index * group;
        let images = (first, group.min(shape.batch - first));
        accumulate_group(&shape, (input, grad_output), images, parallelism, sum);
    };
    let sum = if over_groups {
        sum_in_parallel(groups, len, parts, accumulate)
    } else {
        let mut sum = vec![0.0f32; len];
        (0..groups).for_each(|index| accumulate(index, &mut sum));
        sum
    };

    // `sum` is `[36, channels_in, channels_out]`.
    let [inputs, outputs] = [shape.channels_in, shape.channels_out];
    for channel in 0..inputs {
        let from = TileLayout {
            offset: channel * outputs,
            row_stride: TILE * inputs * outputs,
            column_stride: inputs * outputs,
        };
        let to = KernelLayout::of_input(channel, inputs);
        transform::grad_weight_tile(&sum, from, grad_weight, to, outputs);
    }
}

/// Most `f32` values that the partial sums of one weight gradient take together: 64 Mi
/// (256 MiB), the partial sums of 7 threads for a 512-channel layer.
const MAX_SUM_VALUES: usize = 64 << 20;

/// Returns how many partial sums of `len` values to run on `threads` threads: one per thread,
/// unless that exceeds [`MAX_SUM_VALUES`] together.
fn sum_parts(threads: usize, len: usize) -> usize {
    threads.min(MAX_SUM_VALUES / len.max(1)).max(1)
}

/// Adds the transformed-kernel gradient of the `count` images from `first` onto `sum`, a
/// `[36, channels_in, channels_out]` matrix.
fn accumulate_group(
    shape: &Shape,
    (input, grad_output): (&[f32], &[f32]),
    (first, count): (usize, usize),
    parallelism: Parallelism,
    sum: &mut [f32],
) {
    let [inputs, outputs] = [shape.channels_in, shape.channels_out];
    let per_image = shape.tiles_per_image();
    let tiles = count * per_image;

    with_group_scratch(shape, count, |input_tiles, grad_tiles, image| {
        // Input tiles `[tiles, 36, channels_in]` as in the forward pass, and output-gradient
        // tiles `[tiles, 36, channels_out]`.
        for index in 0..count {
            let image_index = first + index;
            let source = &input[image_index * shape.input_len()..][..shape.input_len()];
            shape.pad_channels_last(source, image);
            shape.transform_input(image, index * per_image, input_tiles);

            let grad = &grad_output[image_index * shape.output_len()..][..shape.output_len()];
            shape.channels_last(grad, image);
            shape.transform_grad_output(image, index * per_image, grad_tiles);
        }

        // Position ξ: `sum[ξ] += input_tilesᵀ[ξ] · grad_tiles[ξ]`, summed over the tiles.
        for position in 0..POSITIONS {
            let lhs = Matrix::transposed(&input_tiles[position * inputs..], POSITIONS * inputs);
            let rhs = Matrix::strided(&grad_tiles[position * outputs..], POSITIONS * outputs);
            let dst = &mut sum[position * inputs * outputs..][..inputs * outputs];
            matmul(dst, true, lhs, rhs, [inputs, outputs, tiles], parallelism);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{MAX_SUM_VALUES, sum_parts};

    #[test]
    fn sum_parts_respect_memory_cap() {
        // A 512-channel layer: 36 · 512 · 512 values per partial sum.
        let len = 36 * 512 * 512;
        assert_eq!(sum_parts(2, len), 2);
        assert_eq!(sum_parts(64, len), 7);
        assert!(sum_parts(64, len) * len <= MAX_SUM_VALUES);
        assert_eq!(sum_parts(8, MAX_SUM_VALUES * 2), 1);
        assert_eq!(sum_parts(8, 0), 8);
    }
}
