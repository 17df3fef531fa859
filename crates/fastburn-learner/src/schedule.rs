//! Annealing functions and the step-wise [`Scheduler`] that the one-cycle policy and the
//! learning-rate finder are built from (fastai v1's `callback.py`).

use std::f64::consts::PI;

/// The curve a [`Scheduler`] follows from its start value to its end value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annealing {
    /// Cosine: `end + (start - end) / 2 * (cos(pi * pct) + 1)`.
    Cos,
    /// Exponential: `start * (end / start) ^ pct`.
    Exp,
    /// Linear: `start + pct * (end - start)`.
    Linear,
    /// Constant: always `start`.
    No,
}

impl Annealing {
    /// Returns the value at `pct` (0 at the start, 1 at the end) of the way from `start` to `end`.
    pub fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Annealing::Cos => annealing_cos(start, end, pct),
            Annealing::Exp => start * (end / start).powf(pct),
            Annealing::Linear => start + pct * (end - start),
            Annealing::No => start,
        }
    }
}

/// Cosine annealing from `start` to `end`.
pub fn annealing_cos(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

/// A schedule of per-layer-group values over `n_iter` steps.
///
/// [`start`](Self::start) is the value before the first step. Each [`step`](Self::step) advances
/// by one and returns the value at `n / n_iter`, so the last step returns `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduler {
    /// Values at the start, one per layer group.
    pub start: Vec<f64>,
    /// Values at the end, one per layer group.
    pub end: Vec<f64>,
    /// Number of steps, at least 1.
    pub n_iter: usize,
    /// The annealing function.
    pub func: Annealing,
    n: usize,
}

impl Scheduler {
    /// Builds a scheduler; `n_iter` is raised to 1 as fastai does, so an empty phase still ends.
    ///
    /// `start` and `end` must have the same length.
    pub fn new(start: Vec<f64>, end: Vec<f64>, n_iter: usize, func: Annealing) -> Self {
        debug_assert_eq!(start.len(), end.len());
        Self {
            start,
            end,
            n_iter: n_iter.max(1),
            func,
            n: 0,
        }
    }

    /// Advances one step and returns the new values.
    pub fn step(&mut self) -> Vec<f64> {
        self.n += 1;
        let pct = self.n as f64 / self.n_iter as f64;
        self.start
            .iter()
            .zip(&self.end)
            .map(|(&start, &end)| self.func.apply(start, end, pct))
            .collect()
    }

    /// Whether all `n_iter` steps have been taken.
    pub fn is_done(&self) -> bool {
        self.n >= self.n_iter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_ends_match() {
        assert_eq!(annealing_cos(1.0, 0.1, 0.0), 1.0);
        assert!((annealing_cos(1.0, 0.1, 1.0) - 0.1).abs() < 1e-15);
        assert!((annealing_cos(1.0, 0.0, 0.5) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn exponential_is_geometric() {
        let mut sched = Scheduler::new(vec![1e-7], vec![10.0], 100, Annealing::Exp);
        let first = sched.step()[0];
        assert!((first - 1e-7 * 1e8f64.powf(0.01)).abs() < 1e-18);
        for _ in 1..99 {
            sched.step();
        }
        assert!(!sched.is_done());
        let last = sched.step()[0];
        assert!((last - 10.0).abs() < 1e-9);
        assert!(sched.is_done());
    }

    #[test]
    fn empty_phase_takes_one_step() {
        let mut sched = Scheduler::new(vec![1.0], vec![2.0], 0, Annealing::Linear);
        assert_eq!(sched.step(), vec![2.0]);
        assert!(sched.is_done());
    }
}
