//! Affine and perspective maps of normalized image coordinates.
//!
//! Both map a point of the output image to the point of the input image it is sampled from,
//! as fastai v1's flow fields do.

/// A 3x3 affine matrix acting on `(x, y, 1)` column vectors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [[f32; 3]; 3]);

impl Affine {
    /// The identity map.
    pub const IDENTITY: Affine = Affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);

    /// Mirrors the x axis.
    pub fn flip_lr() -> Self {
        Affine([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    }

    /// Rotates by `degrees` about the centre.
    pub fn rotate(degrees: f32) -> Self {
        let (sin, cos) = degrees.to_radians().sin_cos();
        Affine([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    }

    /// Magnifies by `scale` towards the focal point at `row_pct`/`col_pct` (0..1) of the image.
    ///
    /// The translation keeps the sampled window inside the image for every focal point.
    pub fn zoom(scale: f32, row_pct: f32, col_pct: f32) -> Self {
        let shrink = 1.0 - 1.0 / scale;
        let col_centre = shrink * (2.0 * col_pct - 1.0);
        let row_centre = shrink * (2.0 * row_pct - 1.0);
        Affine([
            [1.0 / scale, 0.0, col_centre],
            [0.0, 1.0 / scale, row_centre],
            [0.0, 0.0, 1.0],
        ])
    }

    /// Returns `self · other`: the map that applies `other` first, then `self`.
    pub fn matmul(&self, other: &Affine) -> Affine {
        let mut product = [[0.0; 3]; 3];
        for (row, product_row) in product.iter_mut().enumerate() {
            for (column, value) in product_row.iter_mut().enumerate() {
                *value = (0..3).map(|k| self.0[row][k] * other.0[k][column]).sum();
            }
        }
        Affine(product)
    }

    /// Maps the point `(x, y)`.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let m = &self.0;
        (
            m[0][0] * x + m[0][1] * y + m[0][2],
            m[1][0] * x + m[1][1] * y + m[1][2],
        )
    }
}

/// A perspective map (homography) acting on `(x, y, 1)` column vectors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [[f32; 3]; 3]);

/// The corners of the image in normalized coordinates, in fastai's order.
const CORNERS: [[f64; 2]; 4] = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]];

impl Homography {
    /// fastai's `symmetric_warp`: the corners move outwards by the four `offsets`, pairwise
    /// symmetric about the centre lines, and the output samples the input through the
    /// homography that maps the moved corners back onto the original ones.
    pub fn symmetric_warp(offsets: [f32; 4]) -> Self {
        let m = offsets.map(f64::from);
        let moved = [
            [-1.0 - m[3], -1.0 - m[1]],
            [-1.0 - m[2], 1.0 + m[1]],
            [1.0 + m[3], -1.0 - m[0]],
            [1.0 + m[2], 1.0 + m[0]],
        ];
        Homography::from_points(&moved, &CORNERS)
    }

    /// Solves for the homography that maps each point of `from` onto the same point of `to`.
    ///
    /// Returns the identity when the points are degenerate (three of them collinear).
    pub fn from_points(from: &[[f64; 2]; 4], to: &[[f64; 2]; 4]) -> Self {
        // Eight equations in the eight unknown coefficients, with h33 fixed to 1.
        let mut system = [[0.0f64; 9]; 8];
        for (index, (source, target)) in from.iter().zip(to).enumerate() {
            let [x, y] = *source;
            let [u, v] = *target;
            system[2 * index] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            system[2 * index + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }

        let Some(h) = solve_linear_system(system) else {
            return Homography(Affine::IDENTITY.0);
        };
        Homography([
            [h[0] as f32, h[1] as f32, h[2] as f32],
            [h[3] as f32, h[4] as f32, h[5] as f32],
            [h[6] as f32, h[7] as f32, 1.0],
        ])
    }

    /// Maps the point `(x, y)`.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let m = &self.0;
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        (
            (m[0][0] * x + m[0][1] * y + m[0][2]) / w,
            (m[1][0] * x + m[1][1] * y + m[1][2]) / w,
        )
    }
}

/// Solves an 8x8 system given as augmented rows, by Gaussian elimination with partial
/// pivoting. Returns `None` when the matrix is singular.
fn solve_linear_system(mut rows: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    const N: usize = 8;
    for column in 0..N {
        let pivot =
            (column..N).max_by(|&a, &b| rows[a][column].abs().total_cmp(&rows[b][column].abs()))?;
        if rows[pivot][column].abs() < 1e-12 {
            return None;
        }
        rows.swap(column, pivot);

        for row in column + 1..N {
            let factor = rows[row][column] / rows[column][column];
            for k in column..=N {
                rows[row][k] -= factor * rows[column][k];
            }
        }
    }

    let mut solution = [0.0; N];
    for row in (0..N).rev() {
        let known: f64 = (row + 1..N).map(|k| rows[row][k] * solution[k]).sum();
        solution[row] = (rows[row][N] - known) / rows[row][row];
    }
    Some(solution)
}
