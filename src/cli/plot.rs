//! The accuracy-vs-epoch plot of a run, like the lecture's, as SVG.

use std::path::Path;

use plotters::prelude::*;

use crate::output::write_atomic;
use crate::{Error, Result};

/// Draw test accuracy (%) against epoch and write it atomically to `path` (SVG).
pub fn accuracy_svg(path: &Path, title: &str, accuracy: &[(usize, f64)]) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        let err = |e: String| Error::InvalidArgument {
            op: "plot",
            message: e,
        };
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let last = accuracy.last().map_or(1, |a| a.0).max(2);
        let lo = accuracy
            .iter()
            .map(|a| a.1)
            .fold(100.0, f64::min)
            .min(50.0)
            .floor();
        let caption = match accuracy.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            Some(&(bx, by)) => format!("{title}: best {by:.2}% at epoch {bx}"),
            None => title.to_string(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(1usize..last, lo..100.0)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("test accuracy (%)")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(accuracy.iter().copied(), &BLUE))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(
                accuracy
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, BLUE.filled())),
            )
            .map_err(|e| err(e.to_string()))?;
        if let Some(&best) = accuracy.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            chart
                .draw_series(std::iter::once(Circle::new(best, 5, RED.filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    write_atomic(path, svg.as_bytes())
}
