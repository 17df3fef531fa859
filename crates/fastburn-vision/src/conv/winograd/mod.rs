//! Winograd's F(4×4, 3×3) for the `f32` convolutions with a 3×3 kernel and stride 1, which
//! make up most of ResNet34's work, and for both their gradients.
//!
//! im2col + gemm takes 9 multiplications per output pixel and channel pair, 144 per 4×4 block
//! of outputs. Here such a block takes 36. The input is cut into overlapping 6×6 tiles, and
//! the tiles and the kernels are transformed. Each of the 36 transformed positions becomes
//! one matrix product, tiles × input channels times input channels × output channels. The
//! products are then transformed back into output tiles.
//!
//! The transforms scale values by factors from 1/24 to 8 before summing, so results carry
//! more rounding than the direct sum's: within 1e-5 of the largest output in the tests here.
//! A NaN or infinite input makes its whole 4×4 output tiles NaN, not only the outputs that
//! read it. The input transform alone can scale a value by up to 100, so inputs above about
//! `f32::MAX / 100` can overflow where the direct sum does not. Set [`WINOGRAD_ENV`] to `0`
//! to use im2col + gemm for these convolutions too.

mod layout;
#[cfg(test)]
mod tests;
mod transform;
mod weight_grad;

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

use super::geometry::{ConvGeometry, Products};
use super::kernel::{Epilogue, for_each_image, plan, with_columns};
use super::matrix::{Matrix, matmul};
use layout::Shape;
use transform::{KernelLayout, OUT, POSITIONS, TILE, TileLayout};
pub(super) use weight_grad::backward_weight;

/// The environment variable that sends 3×3 stride-1 convolutions to im2col + gemm instead of
/// Winograd's algorithm when set to `0`. Read once per process.
pub const WINOGRAD_ENV: &str = "FASTBURN_WINOGRAD";

/// Minimum input and output channels for Winograd's algorithm. Each transformed value feeds
/// one product per channel on the other side, so with few channels the transforms outweigh
/// the products they save.
// NOTE: 16 is an estimate, not a measured break-even: ResNet34 has 64 or more everywhere.
const MIN_CHANNELS: usize = 16;

/// Tiles per matrix product below which images are grouped, so that gemm's packing of the
/// transformed weight, once per product, is spread over enough rows. An estimate, like
/// im2col's grouping threshold.
const MIN_TILES: usize = 128;

fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var(WINOGRAD_ENV).map_or(true, |value| value.trim() != "0"))
}

/// Returns whether [`forward`] computes this convolution: `f32` products, a 3×3 kernel,
/// stride 1, no dilation, at least [`MIN_CHANNELS`] on both sides, a non-empty input, an
/// output, and at least one image per thread.
// NOTE: with fewer images than threads the transforms would run on one thread while gemm
// uses all. ResNet34 inference at batch 1 on 2 threads took 9.2 images/s that way, against
// 13.6 with im2col, and 10.2 with the transforms split by tile: the 36 small products on
// all threads are then the limit. Such batches keep im2col.
// NOTE: bfloat16 products (AMX) keep im2col too. Whether they still beat these `f32`
// products on an AMX processor has not been measured since this algorithm landed.
pub(super) fn applies(geometry: &ConvGeometry) -> bool {
    enabled()
        && geometry.products == Products::F32
        && geometry.kernel == [3, 3]
        && geometry.stride == [1, 1]
        && geometry.dilation == [1, 1]
        && geometry.channels_in >= MIN_CHANNELS
        && geometry.channels_out >= MIN_CHANNELS
        && geometry.batch >= rayon::current_num_threads()
        && geometry.input.iter().all(|&size| size > 0)
        && geometry.output().is_some()
}

/// Returns whether [`backward_input`] computes this convolution's input gradient: as
/// [`applies`], with at most 2 rows or columns of padding on each side, so that the gradient
/// is itself a convolution with non-negative padding.
pub(super) fn applies_to_input_grad(geometry: &ConvGeometry) -> bool {
    let padding = geometry.padding_begin.iter().chain(&geometry.padding_end);
    applies(geometry) && padding.into_iter().all(|&rows| rows <= 2)
}

/// Computes `output = conv(input, weight)` without bias, then applies `epilogue` to each
/// image's output. Shapes as in [`super::kernel::forward`].
pub(super) fn forward(
    geometry: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    epilogue: Option<&Epilogue>,
    output: &mut [f32],
) {
    let shape = Shape::new(geometry);

    let channels_in = shape.channels_in;
    let kernels = |channel| KernelLayout::of_input(channel, channels_in);
    with_transformed_weight(&shape, weight, kernels, |transformed| {
        run(&shape, input, transformed, epilogue, output);
    });
}

/// Computes the input gradient from the output gradient. It is the convolution of the
/// output gradient with the kernel rotated by 180 degrees, its input and output channels
/// swapped, and padding `2 - p` on each side that had padding `p`.
pub(super) fn backward_input(
    geometry: &ConvGeometry,
    weight: &[f32],
    grad_output: &[f32],
    grad_input: &mut [f32],
) {
    let output = geometry
        .output()
        .expect("conv2d rejects convolutions without output before the kernels run");
    let gradient = ConvGeometry {
        channels_in: geometry.channels_out,
        channels_out: geometry.channels_in,
        input: output,
        padding_begin: geometry.padding_begin.map(|rows| 2 - rows),
        padding_end: geometry.padding_end.map(|rows| 2 - rows),
        ..*geometry
    };
    let shape = Shape::new(&gradient);
    assert_eq!(
        shape.output, geometry.input,
        "the gradient's convolution has the input's size"
    );

    // The gradient's output channel is the weight's input channel, and the other way round:
    // its input channel c (a weight output channel) has its kernels at (c · outputs + o) · 9.
    let outputs = shape.channels_out;
    let kernels = |channel| KernelLayout {
        first: channel * outputs * 9,
        stride: 9,
        flipped: true,
    };
    with_transformed_weight(&shape, weight, kernels, |transformed| {
        run(&shape, grad_output, transformed, None, grad_input);
    });
}

thread_local! {
    /// Each calling thread's transformed weight, kept between calls: a new one per call had
    /// the kernel zero up to 36 MiB of fresh pages (ResNet34's last stage) every time. The
    /// buffer keeps its largest size for the thread's life.
    static TRANSFORMED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Transforms every kernel, as `kernels(input_channel)` places them in `weight`, into a
/// `[channels_in, 36, channels_out]` matrix, and calls `f` with it: position ξ's product
/// takes rows of `36 · channels_out` values from offset `ξ · channels_out`.
fn with_transformed_weight<R>(
    shape: &Shape,
    weight: &[f32],
    kernels: impl Fn(usize) -> KernelLayout + Sync,
    f: impl FnOnce(&[f32]) -> R,
) -> R {
    let outputs = shape.channels_out;
    let len = shape.channels_in * POSITIONS * outputs;
    let to = TileLayout {
        offset: 0,
        row_stride: TILE * outputs,
        column_stride: outputs,
    };
    // Every element is written, so the buffer's old contents never show.
    let transform = |transformed: &mut [f32]| {
        transformed
            .par_chunks_mut(POSITIONS * outputs)
            .enumerate()
            .for_each(|(channel, part)| {
                transform::weight_tile(weight, kernels(channel), part, to, outputs);
            });
    };

    TRANSFORMED.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            transform(&mut buffer[..len]);
            f(&buffer[..len])
        }
        // A rayon thread that picked up another convolution while its own is running.
        Err(_) => {
            let mut buffer = vec![0.0f32; len];
            transform(&mut buffer);
            f(&buffer)
        }
    })
}

/// Returns how many images share one set of products: enough for [`MIN_TILES`] tiles, at
/// most an even share of the batch per thread, evened out so each thread gets as many. A
/// batch with at least one image per thread keeps at least one group per thread, because
/// [`plan`] runs fewer groups than threads one after another.
fn group_size(batch: usize, tiles_per_image: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let per_thread = batch.div_ceil(threads).max(1);
    let target = MIN_TILES
        .div_ceil(tiles_per_image.max(1))
        .clamp(1, per_thread);
    let group = per_thread.div_ceil(per_thread.div_ceil(target));
    if batch >= threads && batch.div_ceil(group) < threads {
        batch / threads
    } else {
        group
    }
}

/// Runs the convolution described by `shape` with the transformed weight `transformed`,
/// spreading groups of images over rayon's threads as im2col does.
fn run(
    shape: &Shape,
    input: &[f32],
    transformed: &[f32],
    epilogue: Option<&Epilogue>,
    output: &mut [f32],
) {
    let out_len = shape.output_len();
    let group = group_size(shape.batch, shape.tiles_per_image());
    let (over_groups, parallelism) = plan(shape.batch.div_ceil(group));
    let run_group = |index: usize, out: &mut [f32]| {
        let images = (index * group, out.len() / out_len);
        convolve_group(shape, input, transformed, images, parallelism, out);
        if let Some(epilogue) = epilogue {
            for (image, out) in out.chunks_exact_mut(out_len).enumerate() {
                epilogue.apply(images.0 + image, out, shape.output[0] * shape.output[1]);
            }
        }
    };

    for_each_image(output, group * out_len, over_groups, run_group);
}

/// Calls `f` with this thread's scratch for a group of `count` images, split into the input
/// tiles (`tiles × 36 × channels_in` values), a region of `36 × tiles × channels_out` values
/// and one image, padded channels-last input or channels-last output, whichever is larger.
fn with_group_scratch<R>(
    shape: &Shape,
    count: usize,
    f: impl FnOnce(&mut [f32], &mut [f32], &mut [f32]) -> R,
) -> R {
    let tiles = count * shape.tiles_per_image();
    let input_tiles_len = tiles * POSITIONS * shape.channels_in;
    let output_tiles_len = tiles * POSITIONS * shape.channels_out;
    let image_len = shape.padded_len().max(shape.output_len());

    with_columns(input_tiles_len + output_tiles_len + image_len, |scratch| {
        let (input_tiles, rest) = scratch.split_at_mut(input_tiles_len);
        let (output_tiles, image) = rest.split_at_mut(output_tiles_len);
        f(input_tiles, output_tiles, image)
    })
}

/// Convolves the `count` images from `first` into `out`: transforms their tiles, multiplies
/// each of the 36 positions, and transforms the products back.
fn convolve_group(
    shape: &Shape,
    input: &[f32],
    transformed: &[f32],
    (first, count): (usize, usize),
    parallelism: Parallelism,
    out: &mut [f32],
) {
    let [channels_in, channels_out] = [shape.channels_in, shape.channels_out];
    let per_image = shape.tiles_per_image();
    let tiles = count * per_image;

    with_group_scratch(shape, count, |input_tiles, products, image| {
        // Input tiles, `[tiles, 36, channels_in]`.
        for index in 0..count {
            let source = &input[(first + index) * shape.input_len()..][..shape.input_len()];
            shape.pad_channels_last(source, image);
            shape.transform_input(image, index * per_image, input_tiles);
        }

        // One product per position into `[36, tiles, channels_out]`.
        for position in 0..POSITIONS {
            let lhs = Matrix::strided(
                &input_tiles[position * channels_in..],
                POSITIONS * channels_in,
            );
            let rhs = Matrix::strided(
                &transformed[position * channels_out..],
                POSITIONS * channels_out,
            );
            let dst = &mut products[position * tiles * channels_out..][..tiles * channels_out];
            matmul(
                dst,
                false,
                lhs,
                rhs,
                [tiles, channels_out, channels_in],
                parallelism,
            );
        }

        // Output tiles, channels last, then back to channels first.
        for (index, out) in out.chunks_exact_mut(shape.output_len()).enumerate() {
            shape.transform_output(products, (index * per_image, tiles), image);
            shape.channels_first(image, out);
        }
    });
}

/// Checks that the tile sizes above agree with the transforms'.
const _: () = assert!(TILE == OUT + 2);
