//! The report's charts, drawn as inline SVG with plotters (no hand-assembled markup).

use plotters::prelude::*;

const ERROR: RGBColor = RGBColor(190, 30, 45);
const WARNING: RGBColor = RGBColor(230, 150, 30);

/// A horizontal stacked bar chart: one bar per label, `(label, first, second)` counts drawn as
/// two segments (red, orange); the page carries the legend.
pub fn stacked_bars(title: &str, rows: &[(String, u64, u64)], legend: (&str, &str)) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let height = 60 + 22 * rows.len() as u32;
    {
        let root = SVGBackend::with_string(&mut out, (640, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let max = rows.iter().map(|(_, a, b)| a + b).max().unwrap_or(1).max(1) as f64;
        let n = rows.len();
        let labels: Vec<String> = rows.iter().map(|(l, _, _)| l.clone()).collect();
        let chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(210)
            .build_cartesian_2d(0f64..max * 1.12, 0f64..n as f64);
        let Ok(mut chart) = chart else { return String::new() };
        let fmt = move |y: &f64| {
            let i = n as isize - 1 - y.floor() as isize;
            if (0..n as isize).contains(&i) && (y - y.floor() - 0.5).abs() < 1e-9 {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        let _ = chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 2 + 1)
            .y_label_formatter(&fmt)
            .x_labels((max as usize + 1).min(10))
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-9 {
                    format!("{}", x.round() as i64)
                } else {
                    String::new()
                }
            })
            .light_line_style(RGBColor(238, 238, 238))
            .draw();
        let bar = |i: usize| (n - 1 - i) as f64;
        let _ = chart
            .draw_series(rows.iter().enumerate().filter(|(_, r)| r.1 > 0).map(|(i, (_, a, _))| {
                Rectangle::new([(0.0, bar(i) + 0.15), (*a as f64, bar(i) + 0.85)], ERROR.filled())
            }))
            .map(|s| s.label(legend.0));
        let _ = chart
            .draw_series(rows.iter().enumerate().filter(|(_, r)| r.2 > 0).map(|(i, (_, a, b))| {
                Rectangle::new([(*a as f64, bar(i) + 0.15), ((a + b) as f64, bar(i) + 0.85)], WARNING.filled())
            }))
            .map(|s| s.label(legend.1));
        let _ = chart.draw_series(rows.iter().enumerate().map(|(i, (_, a, b))| {
            Text::new(format!("{}", a + b), ((a + b) as f64 + max * 0.01, bar(i) + 0.3), ("sans-serif", 11).into_font())
        }));
        let _ = root.present();
    }
    out
}
