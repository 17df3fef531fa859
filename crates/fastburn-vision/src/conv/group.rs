//! Matrix products over groups of images, for convolutions with small outputs.
//!
//! With one product per image, ResNet34's last stage multiplies by a 49-column matrix (7×7
//! outputs). There the packing of the weight costs about as much as the arithmetic, and so
//! does the weight gradient's reading and writing of its whole 512×4608 sum per image. Here
//! the column matrices of several images sit side by side in one wider matrix, and one
//! product covers the group. That took a ResNet34 training step at batch 32 from 7.3 to 7.8
//! images/s here.

use gemm::Parallelism;

use super::columns::{self, Columns};
use super::geometry::ConvGeometry;
use super::kernel::{Epilogue, WeightGradLayout, plan, with_columns};
use super::matrix::{Lhs, Matrix};

/// The number of product columns below which images are grouped: an estimate of where
/// gemm's per-call overheads stop mattering, from timings of ResNet34's layers here.
const MIN_COLUMNS: usize = 512;

/// Returns how many images share one product: 1 when an image has enough output pixels,
/// else enough images to reach [`MIN_COLUMNS`], evened out so that every thread gets the
/// same number of groups.
pub fn size(batch: usize, pixels: usize) -> usize {
    if pixels == 0 || pixels >= MIN_COLUMNS || batch <= 1 {
        return 1;
    }
    let threads = rayon::current_num_threads().max(1);
    let per_thread = batch.div_ceil(threads);
    let target = MIN_COLUMNS.div_ceil(pixels).min(per_thread);
    per_thread.div_ceil(per_thread.div_ceil(target))
}

/// Copies the `[channels, pixels]` planes of `count` images, starting at image `first` of
/// `tensor`, side by side into a `[channels, count * pixels]` matrix.
fn side_by_side(
    tensor: &[f32],
    first: usize,
    count: usize,
    [channels, pixels]: [usize; 2],
) -> Vec<f32> {
    let width = count * pixels;
    let image_len = channels * pixels;
    let mut wide = vec![0.0f32; channels * width];
    for image in 0..count {
        let source = &tensor[(first + image) * image_len..(first + image + 1) * image_len];
        for (channel, row) in source.chunks_exact(pixels).enumerate() {
            let start = channel * width + image * pixels;
            wide[start..start + pixels].copy_from_slice(row);
        }
    }
    wide
}

/// Runs `run(first_image, chunk)` on consecutive chunks of `group` images each (the last may
/// be shorter), on rayon's threads when there are enough groups.
fn for_each_group(
    data: &mut [f32],
    image_len: usize,
    group: usize,
    run: impl Fn(usize, &mut [f32]) + Sync,
) {
    use rayon::prelude::*;

    let groups = (data.len() / image_len).div_ceil(group);
    let (over_groups, _) = plan(groups);
    let chunk = group * image_len;
    if over_groups {
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(index, part)| run(index * group, part));
    } else {
        data.chunks_mut(chunk)
            .enumerate()
            .for_each(|(index, part)| run(index * group, part));
    }
}

/// Computes [`super::kernel::forward_with`] with `group` images per product.
pub fn forward(
    geometry: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    epilogue: Option<&Epilogue>,
    output: &mut [f32],
    group: usize,
) {
    let rows = geometry.column_rows();
    let pixels = geometry.output_pixels();
    let channels = geometry.channels_out;
    let out_len = channels * pixels;
    let (_, parallelism) = plan(geometry.batch.div_ceil(group));
    let lhs = Lhs::new(
        Matrix::row_major(weight, rows),
        [channels, rows],
        geometry.products,
    );

    let run = |first: usize, out: &mut [f32]| {
        let count = out.len() / out_len;
        let width = count * pixels;
        let mut product = vec![0.0f32; channels * width];
        let columns = Columns {
            geometry,
            input,
            first,
            count,
        };
        lhs.matmul_columns(&mut product, false, columns, [channels, rows], parallelism);

        for (image, out) in out.chunks_exact_mut(out_len).enumerate() {
            for (channel, row) in out.chunks_exact_mut(pixels).enumerate() {
                let start = channel * width + image * pixels;
                row.copy_from_slice(&product[start..start + pixels]);
            }
            if let Some(epilogue) = epilogue {
                epilogue.apply(first + image, out, pixels);
            }
        }
    };

    for_each_group(output, out_len, group, run);
}

/// Computes [`super::kernel::backward_input`] with `group` images per product.
pub fn backward_input(
    geometry: &ConvGeometry,
    weight: &[f32],
    grad_output: &[f32],
    grad_input: &mut [f32],
    group: usize,
) {
    let rows = geometry.column_rows();
    let pixels = geometry.output_pixels();
    let channels = geometry.channels_out;
    let in_len = geometry.input_len();
    let (_, parallelism) = plan(geometry.batch.div_ceil(group));
    let lhs = Lhs::new(
        Matrix::transposed(weight, rows),
        [rows, channels],
        geometry.products,
    );

    let run = |first: usize, grad_images: &mut [f32]| {
        let count = grad_images.len() / in_len;
        let width = count * pixels;
        let grad = side_by_side(grad_output, first, count, [channels, pixels]);
        with_columns(rows * width, |columns| {
            let rhs = Matrix::row_major(&grad, width);
            lhs.matmul(columns, false, rhs, [rows, width, channels], parallelism);
            for (image, grad_image) in grad_images.chunks_exact_mut(in_len).enumerate() {
                geometry.col2im_block(columns, width, image * pixels, grad_image);
            }
        });
    };

    for_each_group(grad_input, in_len, group, run);
}

/// Adds the weight gradient of the `count` images from `first` onto `sum`, in one product
/// of width `count × pixels`, in `layout` and on `parallelism`.
pub fn accumulate_weight_grad(
    geometry: &ConvGeometry,
    input: &[f32],
    grad_output: &[f32],
    ((first, count), layout, parallelism): ((usize, usize), WeightGradLayout, Parallelism),
    sum: &mut [f32],
) {
    let pixels = geometry.output_pixels();
    let channels = geometry.channels_out;
    let grad = side_by_side(grad_output, first, count, [channels, pixels]);
    let columns = Columns {
        geometry,
        input,
        first,
        count,
    };
    let run = (geometry.products, parallelism);
    columns::accumulate_weight_grad(sum, &grad, columns, layout, run);
}
