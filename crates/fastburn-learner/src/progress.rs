//! The progress display: a bar through each epoch and fastai's results table.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{Callback, CallbackResult, TrainState};

/// Width of each column of the results table.
const COLUMN_WIDTH: usize = 12;

/// Formats the table header, e.g. `epoch       train_loss  valid_loss  accuracy    time`.
pub fn format_table_header(metric_names: &[String]) -> String {
    let mut columns = vec!["epoch".to_string(), "train_loss".into(), "valid_loss".into()];
    columns.extend(metric_names.iter().cloned());
    columns.push("time".into());
    join_columns(&columns)
}

/// Formats one table row: the epoch, the smoothed training loss, the validation loss (`#na#` when
/// validation was skipped), each metric with six decimals, and the time as `mm:ss`.
pub fn format_table_row(
    epoch: usize,
    train_loss: f64,
    valid_loss: Option<f64>,
    metrics: &[f64],
    elapsed: Duration,
) -> String {
    let mut columns = vec![epoch.to_string(), format!("{train_loss:.6}")];
    columns.push(match valid_loss {
        Some(loss) => format!("{loss:.6}"),
        None => "#na#".to_string(),
    });
    columns.extend(metrics.iter().map(|value| format!("{value:.6}")));
    let seconds = elapsed.as_secs();
    columns.push(format!("{:02}:{:02}", seconds / 60, seconds % 60));
    join_columns(&columns)
}

fn join_columns(columns: &[String]) -> String {
    let padded: Vec<String> = columns
        .iter()
        .map(|column| format!("{column:<COLUMN_WIDTH$}"))
        .collect();
    padded.join("").trim_end().to_string()
}

/// Shows a progress bar through each epoch (only when stdout is a terminal) and prints a table
/// row to stdout after each epoch.
pub struct ProgressCallback {
    metric_names: Vec<String>,
    bar: Option<ProgressBar>,
    epoch_start: Instant,
    /// Batches done in the current epoch, for the plain progress lines.
    batches_done: usize,
}

impl ProgressCallback {
    /// Builds a display for a run with these metric columns.
    pub fn new(metric_names: Vec<String>) -> Self {
        Self {
            metric_names,
            bar: None,
            epoch_start: Instant::now(),
            batches_done: 0,
        }
    }
}

impl Callback for ProgressCallback {
    fn order(&self) -> i32 {
        // After every other callback, so the row shows what they recorded.
        100
    }

    fn on_train_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        println!("{}", format_table_header(&self.metric_names));
        Ok(())
    }

    fn on_epoch_begin(&mut self, state: &mut TrainState) -> CallbackResult {
        self.epoch_start = Instant::now();
        self.batches_done = 0;
        let bar = ProgressBar::with_draw_target(
            Some(state.num_train_batches as u64),
            if std::io::stdout().is_terminal() {
                ProgressDrawTarget::stdout()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed}<{eta}] {msg}") {
            bar.set_style(style);
        }
        self.bar = Some(bar);
        Ok(())
    }

    fn on_batch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{:.4}", state.smooth_loss));
            bar.inc(1);
        }

        // Without a terminal the bar is hidden, so a log file gets a plain line at every tenth
        // of the epoch instead of minutes of silence.
        self.batches_done += 1;
        let total = state.num_train_batches;
        let step = total.div_ceil(10).max(1);
        if !std::io::stdout().is_terminal() && self.batches_done % step == 0 && self.batches_done < total {
            let elapsed = self.epoch_start.elapsed().as_secs();
            println!(
                "  batch {}/{total}  smoothed loss {:.4}  {:02}:{:02}",
                self.batches_done,
                state.smooth_loss,
                elapsed / 60,
                elapsed % 60
            );
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let (valid_loss, metrics) = match &state.last_metrics {
            Some(results) => (Some(results.valid_loss), results.metrics.clone()),
            None => (None, Vec::new()),
        };
        println!(
            "{}",
            format_table_row(state.epoch, state.smooth_loss, valid_loss, &metrics, self.epoch_start.elapsed())
        );
        Ok(())
    }

    fn on_train_end(&mut self, _state: &mut TrainState) -> CallbackResult {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_row_matches_header_columns() {
        let header = format_table_header(&["accuracy".to_string()]);
        assert_eq!(header, "epoch       train_loss  valid_loss  accuracy    time");
        let row = format_table_row(0, 0.5, Some(0.25), &[0.875], Duration::from_secs(65));
        assert_eq!(row, "0           0.500000    0.250000    0.875000    01:05");
        let skipped = format_table_row(1, 0.5, None, &[], Duration::from_secs(3));
        assert_eq!(skipped, "1           0.500000    #na#        00:03");
    }
}
