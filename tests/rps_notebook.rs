//! The example's pipeline on a capped subset of the real rock-paper-scissors images, at a
//! small size: every step runs and every output is well formed.

use std::fs;
use std::path::PathBuf;

use burn::tensor::Device;
use fastburn::burn;
use fastburn::learner::Precision;
use fastburn::notebook::run_notebook;

mod common;
use common::{shared_dir, small_config};

fn is_png(path: &PathBuf) -> bool {
    image::open(path).is_ok() && fs::read(path).unwrap().starts_with(b"\x89PNG")
}

#[test]
fn notebook_runs_every_step() {
    let shared = shared_dir();
    let out = tempfile::tempdir().unwrap();
    let config = small_config(&shared, out.path());

    let summary = run_notebook(&config, &Device::default()).unwrap();

    // Data: the capped subset keeps all three classes, balanced.
    assert_eq!(summary.classes, ["paper", "rock", "scissors"]);
    assert_eq!(summary.train_len, 18);
    assert_eq!(summary.valid_len, 18);

    // Every file the run reports exists and is of its kind.
    let expected = [
        "show_batch.png",
        "model.txt",
        "stage-1.csv",
        "top_losses-1.png",
        "confusion_matrix-1.png",
        "stage-2.csv",
        "lr_find.png",
        "stage-3.csv",
        "top_losses-2.png",
        "confusion_matrix-2.png",
        "export.fastburn",
        "report.html",
    ];
    for name in expected {
        let path = out.path().join(name);
        assert!(
            summary.outputs.contains(&path),
            "{name} missing from the outputs list"
        );
        assert!(path.is_file(), "{name} was not written");
        if name.ends_with(".png") {
            assert!(is_png(&path), "{name} is not a valid PNG");
        }
    }

    // The epoch tables: a header and one row per epoch, numeric losses and accuracies.
    let epochs = [("stage-1.csv", 2), ("stage-2.csv", 1), ("stage-3.csv", 1)];
    for ((name, epochs), stage) in epochs.iter().zip(&summary.stages) {
        let csv = fs::read_to_string(out.path().join(name)).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0], "epoch,train_loss,valid_loss,accuracy,time_s",
            "{name}"
        );
        assert_eq!(lines.len(), 1 + epochs, "{name}: {csv}");
        for (epoch, line) in lines[1..].iter().enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells[0], epoch.to_string(), "{name}");
            let accuracy: f64 = cells[3].parse().unwrap();
            assert!(
                (0.0..=1.0).contains(&accuracy),
                "{name}: accuracy {accuracy}"
            );
            assert!(
                cells[1].parse::<f64>().unwrap().is_finite(),
                "{name}: {line}"
            );
        }
        assert_eq!(stage.rows.len(), *epochs);
    }

    // The confusion matrix counts every validation item once, and most_confused agrees.
    let matrix = &summary.confusion_matrix;
    let total: usize = matrix.iter().flatten().sum();
    assert_eq!(total, summary.valid_len);
    for (actual, predicted, count) in &summary.most_confused_final {
        let row = summary
            .classes
            .iter()
            .position(|class| class == actual)
            .unwrap();
        let column = summary
            .classes
            .iter()
            .position(|class| class == predicted)
            .unwrap();
        assert_ne!(row, column);
        assert_eq!(matrix[row][column], *count);
        assert!(*count >= 2);
    }
    let off_diagonal_at_least_2 = (0..3)
        .flat_map(|row| (0..3).map(move |column| (row, column)))
        .filter(|&(row, column)| row != column && matrix[row][column] >= 2)
        .count();
    assert_eq!(summary.most_confused_final.len(), off_diagonal_at_least_2);

    // The report is one HTML page with every picture embedded.
    let html = fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("data:image/png;base64,").count(), 6);
    assert!(html.contains("fit_one_cycle(2)"));
    assert!(html.contains("max_lr=slice(5e-4, 3e-3)"));

    // The exported model predicts one of the classes with a probability distribution.
    let (image, prediction) = &summary.prediction;
    assert!(image.starts_with(shared.join("data/rps/valid")));
    assert!(summary.classes.contains(&prediction.class));
    assert_eq!(prediction.probs.len(), 3);
    assert!((prediction.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    assert_eq!(summary.lr_suggestion.is_some(), true);
}

#[test]
fn notebook_runs_in_bf16() {
    // `--precision bf16`: the notebook calls to_bf16() after cnn_learner and every stage
    // trains with finite losses.
    let shared = shared_dir();
    let out = tempfile::tempdir().unwrap();
    let mut config = small_config(&shared, out.path());
    config.precision = Precision::Bf16;

    let summary = run_notebook(&config, &Device::default()).unwrap();

    assert_eq!(summary.stages.len(), 3);
    for stage in &summary.stages {
        for row in &stage.rows {
            // epoch, train_loss, valid_loss, accuracy, time_s
            for loss in &row[1..3] {
                assert!(loss.parse::<f64>().unwrap().is_finite(), "{row:?}");
            }
        }
    }
    let html = fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("learn = learn.to_bf16()"));
}
