//! The accuracy-vs-epoch plot of a classifier's run, like the lecture's, and the
//! loss-vs-step plot of a language model's (train and validation): SVG for `.svg`, PNG for `.png`
//! (text measured and drawn with the bundled DejaVu Sans, so no system font is needed). Any other extension is
//! an error, found before the run starts ([`check_extension`]).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use gpu_rnn::{Error, Result};

const SIZE: (u32, u32) = (720, 480);

/// The plot formats, by the path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

/// The format `path` asks for; `flag` names the option in the error.
pub fn check_extension(path: &Path, flag: &'static str) -> Result<Format> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
    match ext.as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(Error::InvalidArgument {
            op: flag,
            message: format!(
                "{}: expected a .svg or .png file (the extension picks the format)",
                path.display()
            ),
        }),
    }
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        op: "plot",
        message: e.to_string(),
    }
}

/// Draw test accuracy (%) against epoch on `root`.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    accuracy: &[(usize, f64)],
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let last = accuracy.last().map_or(1, |a| a.0).max(2);
    let lo = accuracy
        .iter()
        .map(|a| a.1)
        .fold(100.0, f64::min)
        .min(50.0)
        .floor();
    // The first of tied epochs, as the best checkpoint keeps it.
    let best = accuracy
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .copied();
    let caption = match best {
        Some((bx, by)) => format!("{title}: best {by:.2}% at epoch {bx}"),
        None => title.to_string(),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(1usize..last, lo..100.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(format!("{y_label} (%)"))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(accuracy.iter().copied(), &BLUE))
        .map_err(err)?;
    chart
        .draw_series(
            accuracy
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 3, BLUE.filled())),
        )
        .map_err(err)?;
    if let Some(best) = best {
        chart
            .draw_series(std::iter::once(Circle::new(best, 5, RED.filled())))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Draw train and validation loss (nats/char) against the step on `root`.
fn draw_loss<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    train: &[(usize, f64)],
    val: &[(usize, f64)],
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let all = || {
        train
            .iter()
            .chain(val)
            .map(|p| p.1)
            .filter(|y| y.is_finite())
    };
    let last = train
        .iter()
        .chain(val)
        .map(|p| p.0)
        .max()
        .unwrap_or(1)
        .max(2);
    let hi = all().fold(0.0, f64::max).max(0.5).ceil();
    let lo = all().fold(hi, f64::min).min(hi - 0.5).floor().max(0.0);
    let best = val
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let caption = match best {
        Some(&(bx, by)) => format!("{title}: best val {by:.4} at step {bx}"),
        None => title.to_string(),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0usize..last, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss (nats/char)")
        .draw()
        .map_err(err)?;
    for (name, points, color) in [("train", train, BLUE), ("validation", val, RED)] {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// What a plot shows.
enum Chart<'a> {
    Accuracy {
        title: &'a str,
        y_label: &'a str,
        accuracy: &'a [(usize, f64)],
    },
    Loss {
        title: &'a str,
        train: &'a [(usize, f64)],
        val: &'a [(usize, f64)],
    },
}

impl Chart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        match *self {
            Chart::Accuracy {
                title,
                y_label,
                accuracy,
            } => draw(root, title, y_label, accuracy),
            Chart::Loss { title, train, val } => draw_loss(root, title, train, val),
        }
    }
}

fn register_font() -> Result<()> {
    static FONT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *FONT.get_or_init(|| {
        let bytes = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(err("the bundled font does not load"))
    }
}

/// The accuracy plot's file contents in `format`.
/// `y_label`: "test accuracy" or "validation accuracy".
pub fn accuracy_plot(
    format: Format,
    title: &str,
    y_label: &str,
    accuracy: &[(usize, f64)],
) -> Result<Vec<u8>> {
    render(
        format,
        &Chart::Accuracy {
            title,
            y_label,
            accuracy,
        },
    )
}

/// The loss plot's file contents in `format`: (step, nats/char) points of each series.
pub fn loss_plot(
    format: Format,
    title: &str,
    train: &[(usize, f64)],
    val: &[(usize, f64)],
) -> Result<Vec<u8>> {
    render(format, &Chart::Loss { title, train, val })
}

fn render(format: Format, chart: &Chart) -> Result<Vec<u8>> {
    register_font()?;
    match format {
        Format::Svg => {
            let mut svg = String::new();
            chart.draw(&SVGBackend::with_string(&mut svg, SIZE).into_drawing_area())?;
            Ok(svg.into_bytes())
        }
        Format::Png => {
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            chart.draw(&BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area())?;
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, SIZE.0, SIZE.1);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().map_err(err)?;
            w.write_image_data(&rgb).map_err(err)?;
            w.finish().map_err(err)?;
            Ok(out)
        }
    }
}
