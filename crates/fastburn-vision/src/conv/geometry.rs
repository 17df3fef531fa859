//! Shapes of a 2-D convolution and the column matrix (im2col) that turns it into a matrix
//! product.

/// Sizes of one ungrouped 2-D convolution over an NCHW batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub channels_in: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output channels.
    pub channels_out: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Zero padding before the first row and column (top, left).
    pub padding_begin: [usize; 2],
    /// Zero padding after the last row and column (bottom, right).
    pub padding_end: [usize; 2],
    /// Spacing between kernel taps along height and width.
    pub dilation: [usize; 2],
    /// The precision of the matrix products.
    pub products: Products,
}

/// The precision the matrix products of a convolution compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Products {
    /// `f32` operands and sums (gemm).
    #[default]
    F32,
    /// Operands rounded to bfloat16, sums in `f32` (AMX tiles). Only planned where
    /// [`super::amx::available`] returns true.
    Bf16,
}

impl ConvGeometry {
    /// Returns the output height and width, or `None` when the dilated kernel is larger than
    /// the padded input.
    pub fn output(&self) -> Option<[usize; 2]> {
        let mut output = [0; 2];
        for axis in 0..2 {
            let padded = self.input[axis]
                .checked_add(self.padding_begin[axis])?
                .checked_add(self.padding_end[axis])?;
            let span = self.dilation[axis]
                .checked_mul(self.kernel[axis].checked_sub(1)?)?
                .checked_add(1)?;
            if span > padded || self.stride[axis] == 0 {
                return None;
            }
            output[axis] = (padded - span) / self.stride[axis] + 1;
        }
        Some(output)
    }

    /// Returns the rows of the column matrix: one per input channel and kernel tap.
    pub fn column_rows(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    /// Returns the output pixels of one image, the columns of the column matrix.
    pub fn output_pixels(&self) -> usize {
        let [height, width] = self.output().unwrap_or([0, 0]);
        height * width
    }

    /// Returns the elements of one input image.
    pub fn input_len(&self) -> usize {
        self.channels_in * self.input[0] * self.input[1]
    }

    /// Returns whether the column matrix of an image is the image itself (a 1×1 kernel with
    /// stride 1 and no padding), so no copy is needed.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.padding_begin == [0, 0]
            && self.padding_end == [0, 0]
    }

    /// Returns the output positions `lo..hi` along `axis` whose input position for kernel tap
    /// `tap` falls inside the image. Positions outside read the zero padding.
    fn valid_range(&self, axis: usize, tap: usize, outputs: usize) -> (usize, usize) {
        // The input position of output `o` is `o * stride + tap * dilation - padding_begin`.
        let offset = tap * self.dilation[axis];
        let stride = self.stride[axis];
        let begin = self.padding_begin[axis];
        let lo = begin.saturating_sub(offset).div_ceil(stride).min(outputs);
        let limit = self.input[axis] + begin;
        let hi = if limit > offset {
            (limit - offset).div_ceil(stride).min(outputs)
        } else {
            0
        };
        (lo, hi.max(lo))
    }

    /// Writes the column matrix of one image as a block of a wider matrix: row `r` of the
    /// image's matrix goes to `columns[r * row_stride + offset..]`.
    pub fn im2col_block(
        &self,
        image: &[f32],
        columns: &mut [f32],
        row_stride: usize,
        offset: usize,
    ) {
        let pixels = self.output_pixels();
        for row in 0..self.column_rows() {
            let start = row * row_stride + offset;
            self.column_row(image, row, &mut columns[start..start + pixels]);
        }
    }

    /// Writes row `row` of one image's column matrix into `out`, one value per output pixel.
    /// Row `(c, i, j)` contains the input value under kernel tap `(i, j)` of channel `c`.
    pub fn column_row(&self, image: &[f32], row: usize, out: &mut [f32]) {
        let [out_h, out_w] = self
            .output()
            .expect("conv2d rejects convolutions without output before the kernels run");
        let [in_h, in_w] = self.input;
        let [kh, kw] = self.kernel;
        let (channel, i, j) = (row / (kh * kw), (row / kw) % kh, row % kw);
        let plane = &image[channel * in_h * in_w..(channel + 1) * in_h * in_w];
        let (y_lo, y_hi) = self.valid_range(0, i, out_h);
        let (x_lo, x_hi) = self.valid_range(1, j, out_w);
        let dst = &mut out[..out_h * out_w];

        dst[..y_lo * out_w].fill(0.0);
        dst[y_hi * out_w..].fill(0.0);
        for y in y_lo..y_hi {
            let in_y = y * self.stride[0] + i * self.dilation[0] - self.padding_begin[0];
            let src = &plane[in_y * in_w..(in_y + 1) * in_w];
            let out = &mut dst[y * out_w..(y + 1) * out_w];
            out[..x_lo].fill(0.0);
            out[x_hi..].fill(0.0);
            if x_lo == x_hi {
                continue;
            }
            let first = x_lo * self.stride[1] + j * self.dilation[1] - self.padding_begin[1];
            if self.stride[1] == 1 {
                out[x_lo..x_hi].copy_from_slice(&src[first..first + x_hi - x_lo]);
            } else {
                for (k, value) in out[x_lo..x_hi].iter_mut().enumerate() {
                    *value = src[first + k * self.stride[1]];
                }
            }
        }
    }

    /// Adds each entry of a column matrix back onto the input pixel it was read from: the
    /// adjoint of [`im2col`](Self::im2col), which gives the input gradient. Padding entries
    /// are dropped.
    pub fn col2im(&self, columns: &[f32], image: &mut [f32]) {
        self.col2im_block(columns, self.output_pixels(), 0, image);
    }

    /// Runs [`col2im`](Self::col2im) on one image's block of a wider matrix, laid out as
    /// [`im2col_block`](Self::im2col_block) writes it.
    pub fn col2im_block(
        &self,
        columns: &[f32],
        row_stride: usize,
        offset: usize,
        image: &mut [f32],
    ) {
        let [out_h, out_w] = self
            .output()
            .expect("conv2d rejects convolutions without output before the kernels run");
        let [in_h, in_w] = self.input;
        let pixels = out_h * out_w;
        image.fill(0.0);
        let mut row = 0;
        for channel in 0..self.channels_in {
            let plane = &mut image[channel * in_h * in_w..(channel + 1) * in_h * in_w];
            for i in 0..self.kernel[0] {
                let (y_lo, y_hi) = self.valid_range(0, i, out_h);
                for j in 0..self.kernel[1] {
                    let (x_lo, x_hi) = self.valid_range(1, j, out_w);
                    let start = row * row_stride + offset;
                    let src = &columns[start..start + pixels];
                    row += 1;
                    if x_lo == x_hi {
                        continue;
                    }
                    for y in y_lo..y_hi {
                        let in_y =
                            y * self.stride[0] + i * self.dilation[0] - self.padding_begin[0];
                        let dst = &mut plane[in_y * in_w..(in_y + 1) * in_w];
                        let values = &src[y * out_w + x_lo..y * out_w + x_hi];
                        let first =
                            x_lo * self.stride[1] + j * self.dilation[1] - self.padding_begin[1];
                        if self.stride[1] == 1 {
                            for (target, value) in
                                dst[first..first + values.len()].iter_mut().zip(values)
                            {
                                *target += value;
                            }
                        } else {
                            for (k, value) in values.iter().enumerate() {
                                dst[first + k * self.stride[1]] += value;
                            }
                        }
                    }
                }
            }
        }
    }
}
