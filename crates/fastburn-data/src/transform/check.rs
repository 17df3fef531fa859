//! Checking a transform's parameters before any image meets them.

use super::{Range, Transform};

impl Transform {
    /// Checks the parameters: finite ranges, probabilities and positions in `[0, 1]`,
    /// brightness changes strictly inside `(0, 1)`, and positive contrast and zoom scales.
    /// Values outside these ranges would turn the augmented images into NaN.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Transform::CropPad { row_pct, col_pct } => {
                within("row_pct", *row_pct, 0.0, 1.0)?;
                within("col_pct", *col_pct, 0.0, 1.0)
            }
            Transform::FlipLr { p } => probability(*p),
            Transform::SymmetricWarp { magnitude, p } => {
                finite("magnitude", *magnitude)?;
                probability(*p)
            }
            Transform::Rotate { degrees, p } => {
                finite("degrees", *degrees)?;
                probability(*p)
            }
            Transform::Zoom {
                scale,
                row_pct,
                col_pct,
                p,
            } => {
                positive("scale", *scale)?;
                within("row_pct", *row_pct, 0.0, 1.0)?;
                within("col_pct", *col_pct, 0.0, 1.0)?;
                probability(*p)
            }
            Transform::Brightness { change, p } => {
                let inside = change.0 > 0.0 && change.1 < 1.0;
                if !(inside && change.0.is_finite() && change.1.is_finite()) {
                    return Err(format!(
                        "brightness change {change:?} must lie strictly between 0 and 1"
                    ));
                }
                probability(*p)
            }
            Transform::Contrast { scale, p } => {
                positive("contrast scale", *scale)?;
                probability(*p)
            }
        }
    }
}

fn finite(name: &str, range: Range) -> Result<(), String> {
    if !(range.0.is_finite() && range.1.is_finite()) {
        return Err(format!("{name} {range:?} must be finite"));
    }
    Ok(())
}

fn within(name: &str, range: Range, low: f32, high: f32) -> Result<(), String> {
    let inside = |value: f32| (low..=high).contains(&value);
    if !(inside(range.0) && inside(range.1)) {
        return Err(format!("{name} {range:?} must lie in [{low}, {high}]"));
    }
    Ok(())
}

fn positive(name: &str, range: Range) -> Result<(), String> {
    finite(name, range)?;
    if !(range.0 > 0.0 && range.1 > 0.0) {
        return Err(format!("{name} {range:?} must be positive"));
    }
    Ok(())
}

fn probability(p: f32) -> Result<(), String> {
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("probability {p} must lie in [0, 1]"));
    }
    Ok(())
}
