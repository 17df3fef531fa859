//! One training stage of the notebook and its epoch table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fastburn_learner::Recorder;

/// Outcome of one `fit_one_cycle` stage.
#[derive(Debug, Clone)]
pub struct StageResult {
    /// The call it reproduces, such as `fit_one_cycle(4)`.
    pub name: String,
    /// Column names of the epoch table.
    pub header: Vec<String>,
    /// One row per epoch: epoch, train_loss, valid_loss, metrics, time in seconds.
    pub rows: Vec<Vec<String>>,
    /// Accuracy on the valid set after the last epoch.
    pub accuracy: Option<f64>,
    /// Wall time of the stage.
    pub wall_time: Duration,
    /// The epoch table as CSV.
    pub csv: PathBuf,
}

impl StageResult {
    /// Reads the epoch table of the last `fit` from `recorder`.
    pub(crate) fn from_recorder(name: &str, recorder: &Recorder, wall_time: Duration, csv: &Path) -> Self {
        let mut header = vec!["epoch".to_string(), "train_loss".into(), "valid_loss".into()];
        header.extend(recorder.metric_names.iter().cloned());
        header.push("time_s".into());

        let mut rows = Vec::new();
        for (epoch, &done) in recorder.nb_batches.iter().enumerate() {
            let train_loss = done
                .checked_sub(1)
                .and_then(|last| recorder.losses.get(last))
                .copied()
                .unwrap_or(f64::NAN);
            let mut row = vec![epoch.to_string(), format!("{train_loss:.6}")];
            row.push(match recorder.val_losses.get(epoch) {
                Some(loss) => format!("{loss:.6}"),
                None => "#na#".to_string(),
            });
            if let Some(metrics) = recorder.metrics.get(epoch) {
                row.extend(metrics.iter().map(|value| format!("{value:.6}")));
            }
            let seconds = recorder.epoch_times.get(epoch).map(Duration::as_secs_f64);
            row.push(format!("{:.1}", seconds.unwrap_or(f64::NAN)));
            rows.push(row);
        }

        let accuracy_column = recorder.metric_names.iter().position(|name| name == "accuracy");
        let accuracy = accuracy_column.and_then(|column| recorder.metrics.last()?.get(column).copied());
        Self {
            name: name.to_string(),
            header,
            rows,
            accuracy,
            wall_time,
            csv: csv.to_path_buf(),
        }
    }

    /// Formats the epoch table as CSV text, header first.
    pub fn to_csv(&self) -> String {
        let mut csv = String::new();
        let _ = writeln!(csv, "{}", self.header.join(","));
        for row in &self.rows {
            let _ = writeln!(csv, "{}", row.join(","));
        }
        csv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_reads_last_smoothed_loss_of_each_epoch() {
        let mut recorder = Recorder::default();
        recorder.losses = vec![1.0, 0.9, 0.8, 0.7];
        recorder.nb_batches = vec![2, 4];
        recorder.val_losses = vec![0.85, 0.65];
        recorder.metrics = vec![vec![0.5], vec![0.75]];
        recorder.metric_names = vec!["accuracy".into()];
        recorder.epoch_times = vec![Duration::from_secs(3), Duration::from_secs(4)];
        let stage = StageResult::from_recorder("fit_one_cycle(2)", &recorder, Duration::from_secs(7), Path::new("a.csv"));

        assert_eq!(stage.rows.len(), 2);
        assert_eq!(stage.rows[0], vec!["0", "0.900000", "0.850000", "0.500000", "3.0"]);
        assert_eq!(stage.rows[1][1], "0.700000");
        assert_eq!(stage.accuracy, Some(0.75));
        assert_eq!(
            stage.to_csv().lines().next().unwrap(),
            "epoch,train_loss,valid_loss,accuracy,time_s"
        );
    }
}
