//! A 2-D convolution and its two gradients as one matrix product per image (im2col + gemm)
//! on `f32` NCHW slices.
//!
//! Images are spread over rayon's threads with a single-threaded product each, which keeps
//! every core on one large product. With fewer images than threads the images run in turn
//! and each product uses all threads instead.

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

use super::columns::{self, Columns};
use super::fused::Activation;
use super::geometry::{ConvGeometry, Products};
use super::group;
use super::matrix::{Lhs, Matrix, matmul};
use super::winograd;

/// Chooses whether a batch runs one image per thread, with single-threaded products, or image
/// after image, with each product on all threads.
pub(super) fn plan(batch: usize) -> (bool, Parallelism) {
    let threads = rayon::current_num_threads();
    if threads > 1 && batch >= threads {
        (true, Parallelism::None)
    } else if threads > 1 {
        (false, Parallelism::Rayon(threads))
    } else {
        (false, Parallelism::None)
    }
}

thread_local! {
    /// Each thread's column matrix, kept between calls: allocating and zeroing several
    /// megabytes per image cost more than the copy into it.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with this thread's column buffer, at least `len` long. Its contents are
/// whatever the last call left, so `f` must overwrite what it reads.
pub(super) fn with_columns<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COLUMNS.with(|columns| match columns.try_borrow_mut() {
        Ok(mut columns) => {
            if columns.len() < len {
                columns.resize(len, 0.0);
            }
            f(&mut columns[..len])
        }
        // A rayon thread waiting inside a multi-threaded product can pick up another
        // convolution's work while its own buffer is borrowed, so that one gets a new buffer.
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Calls `run(index, chunk)` on each image's `chunk_len` elements of `data`, on rayon's
/// threads when `over_images`, else in order on this thread.
pub(super) fn for_each_image(
    data: &mut [f32],
    chunk_len: usize,
    over_images: bool,
    run: impl Fn(usize, &mut [f32]) + Sync,
) {
    if over_images {
        data.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(index, chunk)| run(index, chunk));
    } else {
        data.chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(index, chunk)| run(index, chunk));
    }
}

/// The operations [`forward_with`] applies to each image's output right after its product,
/// while it is still in cache: `activation(output + bias[channel] + residual)`.
pub struct Epilogue<'a> {
    /// One value per output channel.
    pub bias: &'a [f32],
    /// A tensor of the output's shape added before the activation, when present.
    pub residual: Option<&'a [f32]>,
    /// The activation applied last.
    pub activation: Activation,
}

impl Epilogue<'_> {
    /// Applies the epilogue to `out`, the `channels × pixels` output of image `index`.
    pub(super) fn apply(&self, index: usize, out: &mut [f32], pixels: usize) {
        assert_eq!(
            self.bias.len() * pixels,
            out.len(),
            "one bias per output channel"
        );
        let residual = self
            .residual
            .map(|residual| &residual[index * out.len()..(index + 1) * out.len()]);

        for (channel, row) in out.chunks_exact_mut(pixels).enumerate() {
            let bias = self.bias[channel];
            match residual {
                Some(residual) => {
                    let added = &residual[channel * pixels..(channel + 1) * pixels];
                    for (value, added) in row.iter_mut().zip(added) {
                        *value = self.activation.apply_value(*value + bias + added);
                    }
                }
                None => {
                    for value in row.iter_mut() {
                        *value = self.activation.apply_value(*value + bias);
                    }
                }
            }
        }
    }
}

/// Computes `output = conv(input, weight)` without bias. `input` is `[batch, channels_in, H,
/// W]`, `weight` is `[channels_out, channels_in, kh, kw]` and `output` is `[batch,
/// channels_out, out_h, out_w]`, all contiguous.
pub fn forward(geometry: &ConvGeometry, input: &[f32], weight: &[f32], output: &mut [f32]) {
    forward_with(geometry, input, weight, None, output);
}

/// Computes [`forward`] and then applies `epilogue` to each image's output.
pub fn forward_with(
    geometry: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    epilogue: Option<&Epilogue>,
    output: &mut [f32],
) {
    if winograd::applies(geometry) {
        winograd::forward(geometry, input, weight, epilogue, output);
        return;
    }

    let rows = geometry.column_rows();
    let pixels = geometry.output_pixels();
    let group = group::size(geometry.batch, pixels);
    if group > 1 {
        group::forward(geometry, input, weight, epilogue, output, group);
        return;
    }

    let out_len = geometry.channels_out * pixels;
    let shape = [geometry.channels_out, rows];
    let (over_images, parallelism) = plan(geometry.batch);
    let lhs = Matrix::row_major(weight, rows);
    let lhs = Lhs::new(lhs, [geometry.channels_out, rows], geometry.products);

    let run = |index: usize, out: &mut [f32]| {
        let columns = Columns {
            geometry,
            input,
            first: index,
            count: 1,
        };
        lhs.matmul_columns(out, false, columns, shape, parallelism);
        if let Some(epilogue) = epilogue {
            epilogue.apply(index, out, pixels);
        }
    };

    for_each_image(output, out_len, over_images, run);
}

/// Computes the gradient of the input from the gradient of the output: per image
/// `col2im(weightᵀ · grad_output)`.
pub fn backward_input(
    geometry: &ConvGeometry,
    weight: &[f32],
    grad_output: &[f32],
    grad_input: &mut [f32],
) {
    if winograd::applies_to_input_grad(geometry) {
        winograd::backward_input(geometry, weight, grad_output, grad_input);
        return;
    }

    let rows = geometry.column_rows();
    let pixels = geometry.output_pixels();
    let group = group::size(geometry.batch, pixels);
    if group > 1 {
        group::backward_input(geometry, weight, grad_output, grad_input, group);
        return;
    }

    let out_len = geometry.channels_out * pixels;
    let in_len = geometry.input_len();
    let shape = [rows, pixels, geometry.channels_out];
    let (over_images, parallelism) = plan(geometry.batch);
    let lhs = Matrix::transposed(weight, rows);
    let lhs = Lhs::new(lhs, [rows, geometry.channels_out], geometry.products);

    let run = |index: usize, grad_image: &mut [f32]| {
        let grad = Matrix::row_major(&grad_output[index * out_len..(index + 1) * out_len], pixels);
        if geometry.is_pointwise() {
            lhs.matmul(grad_image, false, grad, shape, parallelism);
            return;
        }
        with_columns(rows * pixels, |columns| {
            lhs.matmul(columns, false, grad, shape, parallelism);
            geometry.col2im(columns, grad_image);
        });
    };

    for_each_image(grad_input, in_len, over_images, run);
}

/// Computes the gradient of the weight: the sum over images of `grad_output · im2col(input)ᵀ`.
pub fn backward_weight(
    geometry: &ConvGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    if winograd::applies(geometry) {
        winograd::backward_weight(geometry, input, grad_output, grad_weight);
        return;
    }

    let rows = geometry.column_rows();
    let pixels = geometry.output_pixels();
    let out_len = geometry.channels_out * pixels;
    let channels = geometry.channels_out;
    let layout = WeightGradLayout::choose(channels, geometry.products);
    let group = group::size(geometry.batch, pixels);
    let groups = geometry.batch.div_ceil(group);
    let (over_images, parallelism) = plan(groups);

    // Adds the products of one group of images onto `sum`.
    let accumulate = |index: usize, sum: &mut [f32]| {
        if group > 1 {
            let first = index * group;
            let images = (first, group.min(geometry.batch - first));
            let run = (images, layout, parallelism);
            group::accumulate_weight_grad(geometry, input, grad_output, run, sum);
            return;
        }
        let grad = &grad_output[index * out_len..(index + 1) * out_len];
        let columns = Columns {
            geometry,
            input,
            first: index,
            count: 1,
        };
        let run = (geometry.products, parallelism);
        columns::accumulate_weight_grad(sum, grad, columns, layout, run);
    };

    let weight_len = grad_weight.len();
    let sum = if over_images {
        sum_in_parallel(groups, weight_len, rayon::current_num_threads(), accumulate)
    } else {
        let mut sum = vec![0.0f32; weight_len];
        (0..groups).for_each(|index| accumulate(index, &mut sum));
        sum
    };

    match layout {
        WeightGradLayout::Weight => grad_weight.copy_from_slice(&sum),
        WeightGradLayout::Transposed => {
            for (row, values) in sum.chunks_exact(channels).enumerate() {
                for (channel, value) in values.iter().enumerate() {
                    grad_weight[channel * rows + row] = *value;
                }
            }
        }
    }
}

/// The layout the weight gradient is summed in.
#[derive(Debug, Clone, Copy)]
pub(super) enum WeightGradLayout {
    /// `[channels_out, rows]`, the weight's own: `grad_output · columnsᵀ`.
    Weight,
    /// `[rows, channels_out]`: `columns · grad_outputᵀ`, whose long side is the product's
    /// rows.
    Transposed,
}

impl WeightGradLayout {
    /// Chooses the transposed sum for up to 128 output channels. Timed on ResNet34's layers
    /// at batch 32 here, it cut the first stage's weight gradient (64 channels) from 49 to 30
    /// ms, and slowed the last stage's (512 channels) from 37 to 45 ms.
    ///
    /// bfloat16 products always take the transposed sum: its right operand, the output
    /// gradient transposed, is the smaller one to repack for the tiles (the column matrix
    /// packs as it lies).
    fn choose(channels_out: usize, products: Products) -> Self {
        if channels_out <= 128 || products == Products::Bf16 {
            Self::Transposed
        } else {
            Self::Weight
        }
    }

    /// Adds `grad` (`[channels, width]`) times `columns` (`[rows, width]`) transposed onto
    /// `sum`, in this layout.
    pub(super) fn accumulate(
        self,
        sum: &mut [f32],
        grad: &[f32],
        columns: &[f32],
        [channels, rows, width]: [usize; 3],
        parallelism: Parallelism,
    ) {
        match self {
            Self::Weight => {
                let lhs = Matrix::row_major(grad, width);
                let rhs = Matrix::transposed(columns, width);
                matmul(sum, true, lhs, rhs, [channels, rows, width], parallelism);
            }
            Self::Transposed => {
                let lhs = Matrix::row_major(columns, width);
                let rhs = Matrix::transposed(grad, width);
                matmul(sum, true, lhs, rhs, [rows, channels, width], parallelism);
            }
        }
    }
}

/// Runs `accumulate(index, sum)` for every index below `count` in up to `parts` rayon tasks
/// and returns the sums added up. Each task takes one contiguous run of indices into one
/// buffer of `len` zeros. A fold over rayon's adaptive splits had zeroed two buffers per
/// split, 9 MiB each for the last stage's weight gradient.
pub(super) fn sum_in_parallel(
    count: usize,
    len: usize,
    parts: usize,
    accumulate: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let parts = parts.clamp(1, count.max(1));
    let mut sums: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut sum = vec![0.0f32; len];
            (part * count / parts..(part + 1) * count / parts)
                .for_each(|index| accumulate(index, &mut sum));
            sum
        })
        .collect();

    let mut total = sums.swap_remove(0);
    for sum in &sums {
        total.iter_mut().zip(sum).for_each(|(t, s)| *t += s);
    }
    total
}
