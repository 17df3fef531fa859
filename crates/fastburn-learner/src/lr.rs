//! Learning-rate arguments: one number for every layer group, or fastai's `slice`.

use crate::LearnerError;

/// A learning rate (or momentum, or any per-group hyper-parameter) as fastai's `fit` accepts it.
///
/// `Lr::Value(x)` gives `x` to every layer group. `Lr::slice(a, b)` spreads geometrically from
/// `a` on the first group to `b` on the last, and `Lr::slice_to(b)` gives `b / 10` to every group
/// but the last and `b` to the last, as Python's `slice(b)` does in fastai v1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lr {
    /// The same value for every layer group.
    Value(f64),
    /// fastai's `slice(start, stop)`; `start: None` is `slice(stop)`.
    Slice {
        /// Value of the first layer group, or `None` for `stop / 10` on all but the last group.
        start: Option<f64>,
        /// Value of the last layer group.
        stop: f64,
    },
}

/// fastai v1's default learning rate, `slice(3e-3)`: 3e-3 on the head, 3e-4 on the body.
pub const DEFAULT_LR: Lr = Lr::Slice {
    start: None,
    stop: 3e-3,
};

/// The learning rate an optimizer starts with before `fit` sets one (fastai's 3e-3).
pub(crate) const DEFAULT_LR_VALUE: f64 = 3e-3;

impl Lr {
    /// fastai's `slice(start, stop)`.
    pub fn slice(start: f64, stop: f64) -> Self {
        Lr::Slice {
            start: Some(start),
            stop,
        }
    }

    /// fastai's `slice(stop)`.
    pub fn slice_to(stop: f64) -> Self {
        Lr::Slice { start: None, stop }
    }

    /// Spreads the value over `n_groups` layer groups as fastai's `Learner.lr_range` does.
    ///
    /// Rejects zero groups, non-finite or non-positive values in a geometric spread, and
    /// negative values anywhere.
    pub fn spread(&self, n_groups: usize) -> Result<Vec<f64>, LearnerError> {
        if n_groups == 0 {
            return Err(LearnerError::invalid(
                "lr",
                "the model has no layer groups to spread a learning rate over",
            ));
        }

        match *self {
            Lr::Value(value) => {
                check_value(value)?;
                Ok(vec![value; n_groups])
            }
            Lr::Slice { start: None, stop } => {
                check_value(stop)?;
                let mut values = vec![stop / 10.0; n_groups - 1];
                values.push(stop);
                Ok(values)
            }
            Lr::Slice {
                start: Some(start),
                stop,
            } => {
                check_value(start)?;
                check_value(stop)?;
                if start <= 0.0 || stop <= 0.0 {
                    return Err(LearnerError::invalid(
                        "lr",
                        format!("slice({start}, {stop}) needs positive bounds to spread geometrically"),
                    ));
                }
                Ok(even_mults(start, stop, n_groups))
            }
        }
    }
}

impl From<f64> for Lr {
    fn from(value: f64) -> Self {
        Lr::Value(value)
    }
}

fn check_value(value: f64) -> Result<(), LearnerError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(LearnerError::invalid(
            "lr",
            format!("{value} is not a finite, non-negative number"),
        ))
    }
}

/// `n` values from `start` to `stop` in geometric progression (fastai's `even_mults`).
///
/// A single group gets `stop`, the value of the last group.
fn even_mults(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![stop];
    }

    let step = (stop / start).powf(1.0 / (n - 1) as f64);
    (0..n).map(|i| start * step.powi(i as i32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_spreads_geometrically() {
        let values = Lr::slice(5e-4, 3e-3).spread(3).unwrap();
        assert_eq!(values.len(), 3);
        assert!((values[0] - 5e-4).abs() < 1e-12);
        assert!((values[1] - (5e-4f64 * 3e-3).sqrt()).abs() < 1e-12);
        assert!((values[1] - 1.2247e-3).abs() < 1e-7);
        assert!((values[2] - 3e-3).abs() < 1e-12);
    }

    #[test]
    fn slice_to_divides_all_but_last() {
        let values = Lr::slice_to(3e-3).spread(3).unwrap();
        assert_eq!(values, vec![3e-3 / 10.0, 3e-3 / 10.0, 3e-3]);
    }

    #[test]
    fn value_is_repeated() {
        assert_eq!(Lr::from(0.1).spread(2).unwrap(), vec![0.1, 0.1]);
    }

    #[test]
    fn invalid_values_are_rejected() {
        assert!(Lr::Value(f64::NAN).spread(2).is_err());
        assert!(Lr::slice(0.0, 1e-3).spread(3).is_err());
        assert!(Lr::Value(1e-3).spread(0).is_err());
    }
}
