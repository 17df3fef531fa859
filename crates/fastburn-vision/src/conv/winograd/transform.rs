//! The weight, input and output transforms of Winograd's F(4×4, 3×3), computed on blocks of
//! [`LANES`] channels so that every arithmetic step is one vector operation.
//!
//! With the interpolation points 0, ±1, ±2 and ∞, a 6×6 input tile `d` and a 3×3 kernel `g`
//! give the 4×4 output tile `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, where `⊙` multiplies element by
//! element. The matrices below are the usual ones for these points. The unit tests check the
//! results against a direct sum. Each 2-D transform below is its 1-D
//! transform applied to the tile's columns and then to its rows.

/// Channels per vector block: one AVX-512 register of `f32`.
pub(super) const LANES: usize = 16;

/// One value per channel of a block.
type Lanes = [f32; LANES];

/// Input and transformed tiles are 6×6.
pub(super) const TILE: usize = 6;

/// Output tiles are 4×4.
pub(super) const OUT: usize = 4;

/// Transformed positions per tile, each one matrix product.
pub(super) const POSITIONS: usize = TILE * TILE;

/// `Bᵀ d` for one column of six inputs.
#[inline(always)]
fn input_1d([d0, d1, d2, d3, d4, d5]: [f32; TILE]) -> [f32; TILE] {
    [
        4.0 * d0 - 5.0 * d2 + d4,
        -4.0 * (d1 + d2) + d3 + d4,
        4.0 * (d1 - d2) - d3 + d4,
        2.0 * (d3 - d1) - d2 + d4,
        2.0 * (d1 - d3) - d2 + d4,
        4.0 * d1 - 5.0 * d3 + d5,
    ]
}

/// `Aᵀ m` for one column of six transformed values.
#[inline(always)]
fn output_1d([m0, m1, m2, m3, m4, m5]: [f32; TILE]) -> [f32; OUT] {
    let (sum12, diff12) = (m1 + m2, m1 - m2);
    let (sum34, diff34) = (m3 + m4, m3 - m4);
    [
        m0 + sum12 + sum34,
        diff12 + 2.0 * diff34,
        sum12 + 4.0 * sum34,
        diff12 + 8.0 * diff34 + m5,
    ]
}

/// `G g` for one column of three kernel taps.
#[inline(always)]
fn weight_1d([g0, g1, g2]: [f32; 3]) -> [f32; TILE] {
    [
        g0 / 4.0,
        -(g0 + g1 + g2) / 6.0,
        -(g0 - g1 + g2) / 6.0,
        g0 / 24.0 + g1 / 12.0 + g2 / 6.0,
        g0 / 24.0 - g1 / 12.0 + g2 / 6.0,
        g2,
    ]
}

/// `A y` for one column of four output gradients: the adjoint of [`output_1d`].
#[inline(always)]
fn grad_output_1d([y0, y1, y2, y3]: [f32; OUT]) -> [f32; TILE] {
    let (even, odd) = (y0 + y2, y1 + y3);
    let (even4, odd2) = (y0 + 4.0 * y2, 2.0 * y1 + 8.0 * y3);
    [y0, even + odd, even - odd, even4 + odd2, even4 - odd2, y3]
}

/// `Gᵀ u` for one column of six weight-gradient values: the adjoint of [`weight_1d`].
#[inline(always)]
fn grad_weight_1d([u0, u1, u2, u3, u4, u5]: [f32; TILE]) -> [f32; 3] {
    [
        u0 / 4.0 - (u1 + u2) / 6.0 + (u3 + u4) / 24.0,
        (u2 - u1) / 6.0 + (u3 - u4) / 12.0,
        (u3 + u4 - u1 - u2) / 6.0 + u5,
    ]
}

/// Applies `transform`, a 1-D transform from `N` to `M` values, to the columns of the `N×N`
/// tile `tile` and then to the rows of the result, lane by lane, giving an `M×M` tile.
#[inline(always)]
fn both_axes<const N: usize, const M: usize>(
    tile: &[[Lanes; N]; N],
    transform: fn([f32; N]) -> [f32; M],
) -> [[Lanes; M]; M] {
    // Each pass leaves its result transposed, so the second pass works on the rows of the
    // first one's result and puts them back in place.
    transposed_columns(&transposed_columns(tile, transform), transform)
}

/// Applies `transform` to each of the `K` columns of the `N×K` tile `tile` and returns the
/// results as rows: `out[column] = transform(tile[..][column])`. Written as plain loops over
/// fixed-size arrays so that the lane loops vectorize.
#[inline(always)]
fn transposed_columns<const N: usize, const M: usize, const K: usize>(
    tile: &[[Lanes; K]; N],
    transform: fn([f32; N]) -> [f32; M],
) -> [[Lanes; M]; K] {
    let mut out = [[[0.0; LANES]; M]; K];
    for column in 0..K {
        for lane in 0..LANES {
            let mut values = [0.0; N];
            for row in 0..N {
                values[row] = tile[row][column][lane];
            }
            let result = transform(values);
            for row in 0..M {
                out[column][row][lane] = result[row];
            }
        }
    }
    out
}

/// Copies `block` values from `source` at `at` into `lanes`, a fixed-size copy when the
/// block is whole. The lanes past a partial block are left as they are: they only reach
/// lanes that [`store`] drops.
#[inline(always)]
fn load(lanes: &mut Lanes, source: &[f32], at: usize, block: usize) {
    if block == LANES {
        lanes.copy_from_slice(&source[at..at + LANES]);
    } else {
        lanes[..block].copy_from_slice(&source[at..at + block]);
    }
}

/// Copies the first `block` lanes of `lanes` into `target` at `at`.
#[inline(always)]
fn store(lanes: &Lanes, target: &mut [f32], at: usize, block: usize) {
    if block == LANES {
        target[at..at + LANES].copy_from_slice(lanes);
    } else {
        target[at..at + block].copy_from_slice(&lanes[..block]);
    }
}

/// The position of one tile's values in a buffer: entry (row, column) starts at `offset +
/// row * row_stride + column * column_stride`, each entry a run of channels.
#[derive(Clone, Copy)]
pub(super) struct TileLayout {
    pub offset: usize,
    pub row_stride: usize,
    pub column_stride: usize,
}

impl TileLayout {
    fn at(&self, row: usize, column: usize) -> usize {
        self.offset + row * self.row_stride + column * self.column_stride
    }
}

/// The position of one input channel's 3×3 kernels in a weight: output channel `o`'s nine
/// taps start at `first + o * stride`, row-major, and are read rotated by 180 degrees when
/// `flipped`.
#[derive(Clone, Copy)]
pub(super) struct KernelLayout {
    pub first: usize,
    pub stride: usize,
    pub flipped: bool,
}

impl KernelLayout {
    /// Places the kernels of input channel `channel` in an `[outputs, inputs, 3, 3]` weight
    /// with `inputs` input channels, as a convolution reads them.
    pub fn of_input(channel: usize, inputs: usize) -> Self {
        Self {
            first: channel * 9,
            stride: inputs * 9,
            flipped: false,
        }
    }

    /// Returns where tap `tap` (row-major, 0 to 8) of output channel `output`'s kernel lies.
    fn at(&self, output: usize, tap: usize) -> usize {
        let tap = if self.flipped { 8 - tap } else { tap };
        self.first + output * self.stride + tap
    }
}

/// Runs `$body` compiled for AVX-512 or AVX2 when the processor has it, so that the
/// `[f32; LANES]` loops become vector instructions, and for the baseline target otherwise.
macro_rules! multiversion {
    ($(#[$meta:meta])* $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$meta])*
        pub(super) fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) { generic($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) { generic($($arg),*) }

                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the processor has AVX-512F, checked on the line above.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the processor has AVX2 and FMA, checked above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}

/// Transforms one `N×N` tile of runs of `channels` values into an `M×M` tile. It reads the
/// first `read[0]` rows and `read[1]` columns from `source` at `from`, with zeros past them,
/// and applies `transform` along both axes. It writes the first `write[0]` rows and
/// `write[1]` columns to `target` at `to`.
#[inline(always)]
fn transform_tile<const N: usize, const M: usize>(
    (source, from): (&[f32], TileLayout),
    (target, to): (&mut [f32], TileLayout),
    channels: usize,
    read: [usize; 2],
    write: [usize; 2],
    transform: fn([f32; N]) -> [f32; M],
) {
    for first in (0..channels).step_by(LANES) {
        let block = LANES.min(channels - first);
        let mut tile = [[[0.0; LANES]; N]; N];
        for (row, values) in tile.iter_mut().enumerate().take(read[0]) {
            for (column, lanes) in values.iter_mut().enumerate().take(read[1]) {
                load(lanes, source, from.at(row, column) + first, block);
            }
        }

        let out = both_axes(&tile, transform);
        for (row, values) in out.iter().enumerate().take(write[0]) {
            for (column, lanes) in values.iter().enumerate().take(write[1]) {
                store(lanes, target, to.at(row, column) + first, block);
            }
        }
    }
}

multiversion! {
    /// Transforms one input tile: reads 6×6 runs of `channels` values from `source` at
    /// `from` and writes the 36 transformed runs to `target` at `to`, as 6 rows of 6.
    input_tile(source: &[f32], from: TileLayout, target: &mut [f32], to: TileLayout, channels: usize) {
        let whole = [TILE, TILE];
        transform_tile((source, from), (target, to), channels, whole, whole, input_1d);
    }
}

multiversion! {
    /// Transforms one tile of products back: reads 36 runs of `channels` values from
    /// `source` at `from` and writes the first `rows` rows and `columns` columns of the 4×4
    /// output tile to `target` at `to`.
    output_tile(source: &[f32], from: TileLayout, target: &mut [f32], to: TileLayout, channels: usize, rows: usize, columns: usize) {
        let inside = [rows, columns];
        transform_tile((source, from), (target, to), channels, [TILE, TILE], inside, output_1d);
    }
}

multiversion! {
    /// Transforms the 3×3 kernels of one input channel, as `from` places them, for
    /// `outputs` output channels, and writes the 36 transformed runs of `outputs` values to
    /// `target` at `to`.
    weight_tile(weight: &[f32], from: KernelLayout, target: &mut [f32], to: TileLayout, outputs: usize) {
        for start in (0..outputs).step_by(LANES) {
            let block = LANES.min(outputs - start);
            let mut tile = [[[0.0; LANES]; 3]; 3];
            for (tap, lanes) in tile.as_flattened_mut().iter_mut().enumerate() {
                for (lane, value) in lanes.iter_mut().take(block).enumerate() {
                    *value = weight[from.at(start + lane, tap)];
                }
            }

            let out = both_axes(&tile, weight_1d);
            for (row, values) in out.iter().enumerate() {
                for (column, lanes) in values.iter().enumerate() {
                    store(lanes, target, to.at(row, column) + start, block);
                }
            }
        }
    }
}

multiversion! {
    /// Transforms one tile of output gradients. It reads the first `rows` rows and `columns`
    /// columns of 4×4 runs of `channels` values from `source` at `from`, with zeros past
    /// them, and writes the 36 transformed runs to `target` at `to`, as 6 rows of 6.
    grad_output_tile(source: &[f32], from: TileLayout, target: &mut [f32], to: TileLayout, channels: usize, rows: usize, columns: usize) {
        let inside = [rows, columns];
        transform_tile((source, from), (target, to), channels, inside, [TILE, TILE], grad_output_1d);
    }
}

multiversion! {
    /// Transforms the weight gradient of one input channel back: reads 36 runs of `outputs`
    /// values from `source` at `from`, as 6 rows of 6, and writes each output channel's 3×3
    /// taps into `weight` where `to` places them.
    grad_weight_tile(source: &[f32], from: TileLayout, weight: &mut [f32], to: KernelLayout, outputs: usize) {
        for start in (0..outputs).step_by(LANES) {
            let block = LANES.min(outputs - start);
            let mut tile = [[[0.0; LANES]; TILE]; TILE];
            for (row, values) in tile.iter_mut().enumerate() {
                for (column, lanes) in values.iter_mut().enumerate() {
                    load(lanes, source, from.at(row, column) + start, block);
                }
            }

            let out = both_axes(&tile, grad_weight_1d);
            for (tap, lanes) in out.as_flattened().iter().enumerate() {
                for (lane, value) in lanes.iter().take(block).enumerate() {
                    weight[to.at(start + lane, tap)] = *value;
                }
            }
        }
    }
}

multiversion! {
    /// Copies one row of a `[channels, rows, columns]` image channels last: `line[column ·
    /// channels + channel]` becomes `image[channel · plane + offset + column]` for the first
    /// `columns` columns. Each step gathers one column of [`LANES`] channels and stores it
    /// as one vector.
    row_channels_last(image: &[f32], plane: usize, offset: usize, line: &mut [f32], channels: usize, columns: usize) {
        for first in (0..channels).step_by(LANES) {
            let block = LANES.min(channels - first);
            let start = |lane: usize| (first + lane.min(block - 1)) * plane + offset;
            let rows: [&[f32]; LANES] = std::array::from_fn(|lane| &image[start(lane)..][..columns]);
            for column in 0..columns {
                let mut lanes = [0.0; LANES];
                for lane in 0..LANES {
                    lanes[lane] = rows[lane][column];
                }
                store(&lanes, line, column * channels + first, block);
            }
        }
    }
}

multiversion! {
    /// Copies one channels-last row back into a `[channels, rows, columns]` image, the
    /// reverse of [`row_channels_last`].
    row_channels_first(line: &[f32], image: &mut [f32], plane: usize, offset: usize, channels: usize, columns: usize) {
        for first in (0..channels).step_by(LANES) {
            let block = LANES.min(channels - first);
            for column in 0..columns {
                let mut lanes = [0.0; LANES];
                load(&mut lanes, line, column * channels + first, block);
                for (lane, value) in lanes.iter().take(block).enumerate() {
                    image[(first + lane) * plane + offset + column] = *value;
                }
            }
        }
    }
}
