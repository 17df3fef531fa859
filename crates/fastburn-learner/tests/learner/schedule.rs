//! One-cycle and fit schedules against fastai v1's closed forms.

use std::f64::consts::PI;

use fastburn_learner::{Lr, OneCycleConfig};

use crate::common::tiny_learner;

fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

#[test]
fn one_cycle_matches_closed_form() {
    // 20 items in batches of 4: 5 batches per epoch, 2 epochs, n = 10, warm-up int(3.0) = 3.
    let mut learner = tiny_learner(20, 4);
    learner
        .fit_one_cycle_with(2, Lr::slice(5e-4, 3e-3), OneCycleConfig::default(), Vec::new())
        .unwrap();

    let max_lrs = [5e-4, (5e-4f64 * 3e-3).sqrt(), 3e-3];
    let recorded = &learner.recorder.lrs;
    let moms = &learner.recorder.moms;
    assert_eq!(recorded.len(), 10);

    let (n, warmup) = (10usize, 3usize);
    for k in 0..n {
        for (group, &max_lr) in max_lrs.iter().enumerate() {
            let (expected_lr, expected_mom) = if k <= warmup {
                let pct = k as f64 / warmup as f64;
                (cos_anneal(max_lr / 25.0, max_lr, pct), cos_anneal(0.95, 0.85, pct))
            } else {
                let pct = (k - warmup) as f64 / (n - warmup) as f64;
                (cos_anneal(max_lr, max_lr / 25e4, pct), cos_anneal(0.85, 0.95, pct))
            };
            assert!(
                (recorded[k][group] - expected_lr).abs() < 1e-9 * expected_lr.max(1e-12) + 1e-15,
                "lr of group {group} at batch {k}: {} != {expected_lr}",
                recorded[k][group]
            );
            assert!((moms[k][group] - expected_mom).abs() < 1e-9, "momentum at batch {k}");
        }
    }

    assert!((recorded[0][2] - 3e-3 / 25.0).abs() < 1e-15);
    assert!((recorded[3][0] - 5e-4).abs() < 1e-15);
    assert!((recorded[3][1] - 1.2247e-3).abs() < 1e-7);
}

#[test]
fn fit_keeps_lr_constant() {
    let mut learner = tiny_learner(8, 4);
    learner.fit(1, Lr::slice_to(1e-2)).unwrap();
    assert_eq!(learner.recorder.lrs.len(), 2);
    for lrs in &learner.recorder.lrs {
        assert_eq!(lrs, &vec![1e-2 / 10.0, 1e-2 / 10.0, 1e-2]);
    }
}

#[test]
fn invalid_pct_start_is_rejected() {
    let mut learner = tiny_learner(8, 4);
    let config = OneCycleConfig {
        pct_start: 1.5,
        ..OneCycleConfig::default()
    };
    let error = learner
        .fit_one_cycle_with(1, Lr::Value(1e-3), config, Vec::new())
        .unwrap_err();
    assert!(error.to_string().contains("pct_start"), "{error}");
}
