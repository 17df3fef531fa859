//! fastai v1's lighting transforms, which act on the logit of every sample.

/// fastai clamps samples to `[EPSILON, 1 - EPSILON]` before the logit, so 0 and 1 stay finite.
const EPSILON: f32 = 1e-7;

/// One lighting change on the logit scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Lighting {
    /// Adds `logit(change)`.
    Brightness(f32),
    /// Multiplies by the scale.
    Contrast(f32),
}

/// Applies the lighting changes in order to every sample of `data` (0..1 scale).
pub(crate) fn apply_lighting(data: &mut [f32], changes: &[Lighting]) {
    if changes.is_empty() {
        return;
    }

    for value in data.iter_mut() {
        let mut logit = logit(*value);
        for change in changes {
            match *change {
                Lighting::Brightness(change) => logit += self::logit(change),
                Lighting::Contrast(scale) => logit *= scale,
            }
        }
        *value = 1.0 / (1.0 + (-logit).exp());
    }
}

fn logit(value: f32) -> f32 {
    let value = value.clamp(EPSILON, 1.0 - EPSILON);
    (value / (1.0 - value)).ln()
}
