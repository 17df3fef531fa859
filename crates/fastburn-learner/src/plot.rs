//! Line plots as PNG files, drawn with plotters and the embedded DejaVu Sans font (no system
//! fonts are needed).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::io::write_atomic;
use crate::LearnerError;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

/// One curve of a [`LinePlot`].
pub(crate) struct Series<'a> {
    pub label: &'a str,
    pub xs: &'a [f64],
    pub ys: &'a [f64],
    pub color: RGBColor,
}

/// A line plot with optional log-scale x axis and one highlighted point.
pub(crate) struct LinePlot<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_x: bool,
    pub series: Vec<Series<'a>>,
    pub marker: Option<(f64, f64)>,
}

fn register_fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font bytes are compiled in, so registration can only fail on a corrupt crate.
        if plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_err() {
            log::error!("the embedded DejaVu Sans font failed to register; plot text will be missing");
        }
    });
}

impl LinePlot<'_> {
    /// Draws the plot and writes it to `path` as a PNG, atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<(), LearnerError> {
        register_fonts();
        let plot_error = |reason: String| LearnerError::Plot {
            path: path.to_path_buf(),
            reason,
        };

        let to_x = |x: f64| if self.log_x { x.log10() } else { x };
        let points: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|series| series.xs.iter().zip(series.ys).map(|(&x, &y)| (to_x(x), y)))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        if points.is_empty() {
            return Err(plot_error("no finite point to plot".into()));
        }
        let (x_min, x_max) = padded_range(points.iter().map(|p| p.0));
        let (y_min, y_max) = padded_range(points.iter().map(|p| p.1));

        let mut buffer = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| plot_error(e.to_string()))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(self.title, ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(x_min..x_max, y_min..y_max)
                .map_err(|e| plot_error(e.to_string()))?;

            let log_x = self.log_x;
            let wide = x_max - x_min >= 1.0;
            let format_x = move |x: &f64| {
                if log_x {
                    format_log_tick(*x, wide)
                } else {
                    format!("{x}")
                }
            };
            chart
                .configure_mesh()
                .x_desc(self.x_label)
                .y_desc(self.y_label)
                .x_label_formatter(&format_x)
                .draw()
                .map_err(|e| plot_error(e.to_string()))?;

            for series in &self.series {
                let color = series.color;
                let line: Vec<(f64, f64)> = series
                    .xs
                    .iter()
                    .zip(series.ys)
                    .map(|(&x, &y)| (to_x(x), y))
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect();
                chart
                    .draw_series(LineSeries::new(line, &color))
                    .map_err(|e| plot_error(e.to_string()))?
                    .label(series.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            }

            if let Some((x, y)) = self.marker {
                chart
                    .draw_series(std::iter::once(Circle::new((to_x(x), y), 6, RED.filled())))
                    .map_err(|e| plot_error(e.to_string()))?;
            }
            if self.series.len() > 1 {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| plot_error(e.to_string()))?;
            }
            root.present().map_err(|e| plot_error(e.to_string()))?;
        }

        let image = image::RgbImage::from_raw(WIDTH, HEIGHT, buffer)
            .ok_or_else(|| plot_error("the drawing buffer has the wrong size".into()))?;
        let mut png = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| plot_error(e.to_string()))?;
        write_atomic(path, &png)
    }
}

/// Returns the range of `values` widened by 5% on each side (and to a unit width when flat).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let width = max - min;
    if width <= 0.0 {
        return (min - 0.5, max + 0.5);
    }
    (min - 0.05 * width, max + 0.05 * width)
}

/// Formats the tick at `log10_x` of a log axis. One significant digit is enough across
/// decades, but a range narrower than one decade (an `lr_find` stopped after a few batches)
/// needs three, or every tick would read the same.
fn format_log_tick(log10_x: f64, wide: bool) -> String {
    let value = 10f64.powf(log10_x);
    if wide {
        format!("{value:.0e}")
    } else {
        format!("{value:.2e}")
    }
}

#[cfg(test)]
mod tick_tests {
    use super::format_log_tick;

    #[test]
    fn narrow_range_ticks_differ() {
        let first = format_log_tick(-7.0, false);
        let second = format_log_tick(-7.0 + 0.1, false);
        assert_eq!(first, "1.00e-7");
        assert_eq!(second, "1.26e-7");
    }

    #[test]
    fn wide_range_ticks_one_digit() {
        assert_eq!(format_log_tick(-3.0, true), "1e-3");
    }
}
