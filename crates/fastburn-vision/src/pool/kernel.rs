//! Max pooling and its gradient on `f32` NCHW slices, one plane (image × channel) per task.

use rayon::prelude::*;

use super::Window;

/// Returns whether `value` replaces `best` as a window's maximum. NaN wins, as in PyTorch,
/// though PyTorch keeps a window's last NaN where this keeps its first. An equal value does
/// not win, so the first maximum stays.
fn beats(value: f32, best: f32) -> bool {
    value > best || (value.is_nan() && !best.is_nan())
}

/// Calls `visit(output_index, input_index)` for every output position of one `height ×
/// width` plane, with `input_index` the position of the window's maximum.
///
/// Each output row takes the column-wise maximum of its window's rows first (a pass along
/// whole rows), then the maximum along each window's columns. Among equal
/// maxima this picks the leftmost column, then its top row, where PyTorch picks the top row
/// first. The output is the same, and only a tie between rows and columns sends the gradient
/// to another of the tied positions.
fn for_each_max(
    window: &Window,
    plane: &[f32],
    [height, width]: [usize; 2],
    columns: &mut (Vec<f32>, Vec<usize>),
    mut visit: impl FnMut(usize, usize),
) {
    let [out_h, out_w] = window.output([height, width]);
    let clip = |start: isize, kernel: usize, size: usize| {
        let begin = start.max(0) as usize;
        let end = ((start + kernel as isize).max(0) as usize).min(size);
        begin..end
    };
    let (column_max, column_row) = columns;
    column_max.resize(width, 0.0);
    column_row.resize(width, 0);

    for oy in 0..out_h {
        let rows = clip(
            (oy * window.stride[0]) as isize - window.padding[0] as isize,
            window.kernel[0],
            height,
        );
        column_max.copy_from_slice(&plane[rows.start * width..(rows.start + 1) * width]);
        column_row.fill(rows.start);
        for y in rows.start + 1..rows.end {
            let row = &plane[y * width..(y + 1) * width];
            for ((best, best_row), &value) in
                column_max.iter_mut().zip(column_row.iter_mut()).zip(row)
            {
                if beats(value, *best) {
                    *best = value;
                    *best_row = y;
                }
            }
        }

        for ox in 0..out_w {
            let cols = clip(
                (ox * window.stride[1]) as isize - window.padding[1] as isize,
                window.kernel[1],
                width,
            );
            let mut best = cols.start;
            for x in cols.start + 1..cols.end {
                if beats(column_max[x], column_max[best]) {
                    best = x;
                }
            }
            visit(oy * out_w + ox, column_row[best] * width + best);
        }
    }
}

/// Computes the max pooling of `input` (`planes × height × width`) into `output` (`planes ×
/// out_h × out_w`).
pub fn forward(window: &Window, input: &[f32], size: [usize; 2], output: &mut [f32]) {
    let in_len = size[0] * size[1];
    let [out_h, out_w] = window.output(size);
    let out_len = out_h * out_w;
    assert_eq!(
        input.len() / in_len.max(1),
        output.len() / out_len.max(1),
        "one output plane per input plane"
    );

    output
        .par_chunks_mut(out_len)
        .zip(input.par_chunks(in_len))
        .for_each_init(Default::default, |columns, (out, plane)| {
            for_each_max(window, plane, size, columns, |o, i| out[o] = plane[i]);
        });
}

/// Computes the gradient of the input: each output's gradient goes to the position of its
/// window's maximum, summed where windows overlap on the same maximum.
pub fn backward(
    window: &Window,
    input: &[f32],
    size: [usize; 2],
    grad_output: &[f32],
    grad_input: &mut [f32],
) {
    let in_len = size[0] * size[1];
    let [out_h, out_w] = window.output(size);
    let out_len = out_h * out_w;
    assert_eq!(
        input.len(),
        grad_input.len(),
        "the input gradient has the input's shape"
    );
    assert_eq!(
        input.len() / in_len.max(1),
        grad_output.len() / out_len.max(1),
        "one output plane per input plane"
    );

    grad_input
        .par_chunks_mut(in_len)
        .zip(input.par_chunks(in_len))
        .zip(grad_output.par_chunks(out_len))
        .for_each_init(Default::default, |columns, ((grad, plane), grad_out)| {
            grad.fill(0.0);
            for_each_max(window, plane, size, columns, |o, i| grad[i] += grad_out[o]);
        });
}
