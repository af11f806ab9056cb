//! The SVG chart of `explain --svg`: the SKU's price history (list intervals as steps,
//! transactions as points, rows that do not count greyed), the lookback windows, the warm-up,
//! the lowest price, list × factor, retail × factor and the promo price. Drawn with plotters'
//! SVG backend. Coordinates are converted to `f64` for drawing only: every comparison was made
//! on exact decimals before this point.

use super::Fact;
use crate::facts::prices::PriceRow;
use crate::facts::windows::Window;
use crate::facts::RegFacts;
use crate::profile::{Profile, ALWAYS_EXCLUDED};
use crate::registration::Registration;
use crate::time::MICROS_PER_DAY;
use plotters::prelude::*;

/// What the chart shows, in days relative to `registered_at` and display prices.
#[derive(Clone, Debug, Default)]
pub struct ChartData {
    pub title: String,
    /// (from, to, price, counted) of each list interval.
    pub steps: Vec<(f64, f64, f64, bool)>,
    /// (at, price, counted) of each transaction.
    pub points: Vec<(f64, f64, bool)>,
    /// Shaded windows: (label, from, to).
    pub windows: Vec<(String, f64, f64)>,
    /// Horizontal reference lines: (label, price).
    pub levels: Vec<(String, f64)>,
    pub x_range: (f64, f64),
    /// The price axis: the prices' range with a margin (not from 0).
    pub y_min: f64,
    pub y_max: f64,
    /// `registered_at` (UTC µs): day 0 of the x axis, labelled with dates.
    pub origin: i64,
}

fn days(t: i64, origin: i64) -> f64 {
    (t - origin) as f64 / MICROS_PER_DAY as f64
}

fn shown(d: crate::money::Dec) -> f64 {
    d.to_string().parse::<f64>().unwrap_or(0.0)
}

impl ChartData {
    pub fn new(
        r: &Registration,
        f: &RegFacts,
        p: &Profile,
        rows: &[(PriceRow, bool)],
        facts: &[(Fact, Window)],
    ) -> ChartData {
        let o = r.registered_at;
        let mut lo = days(r.registered_at, o) - 35.0;
        for (fact, w) in facts {
            if matches!(fact, Fact::Lowest30d | Fact::Lowest180d | Fact::Baseline | Fact::Warmup) {
                lo = lo.min(days(w.from, o) - 3.0);
            }
        }
        let hi = days(r.promo_end, o) + 2.0;
        let counts = |row: &PriceRow, sup: bool| {
            !sup && !ALWAYS_EXCLUDED.contains(&row.channel.as_str()) && !p.excludes(&row.channel)
        };
        let mut steps = Vec::new();
        let mut points = Vec::new();
        let mut y_max = shown(r.promo_price);
        let mut y_min = y_max;
        for (row, sup) in rows {
            let price = shown(row.price);
            if row.is_list {
                let (a, b) = (days(row.ts, o).max(lo), row.end.map_or(hi, |e| days(e, o)).min(hi));
                if b > a {
                    steps.push((a, b, price, counts(row, *sup)));
                    y_max = y_max.max(price);
                    y_min = y_min.min(price);
                }
            } else {
                let at = days(row.ts, o);
                if at >= lo && at <= hi {
                    points.push((at, price, counts(row, *sup)));
                    y_max = y_max.max(price);
                    y_min = y_min.min(price);
                }
            }
        }
        let mut windows = Vec::new();
        for (fact, w) in facts {
            if !matches!(fact, Fact::List | Fact::LastTxn) {
                windows.push((fact.label().to_string(), days(w.from, o).max(lo), days(w.to, o)));
            }
        }
        windows.push(("promo".to_string(), days(r.promo_start, o), days(r.promo_end, o)));
        let mut levels = vec![("promo price".to_string(), shown(r.promo_price))];
        if let Some(l) = &f.lowest_30d {
            levels.push(("lowest_30d".into(), shown(l.price())));
        }
        if let Some(l) = &f.lowest_180d {
            levels.push(("lowest_180d".into(), shown(l.price())));
        }
        if let Some(l) = &f.list {
            levels.push((format!("list × {}", p.list_factor), shown(l.price().mul(p.list_factor))));
        }
        if let Some(l) = &f.retail {
            levels.push((format!("retail × {}", p.retail_factor), shown(l.price().mul(p.retail_factor))));
        }
        if let Some(b) = &f.baseline {
            levels.push(("baseline".into(), shown(b.price())));
        }
        for (_, v) in &levels {
            y_max = y_max.max(*v);
            y_min = y_min.min(*v);
        }
        let pad = ((y_max - y_min) * 0.1).max(y_max.abs() * 0.02).max(0.01);
        ChartData {
            title: format!("{} · {} / {} · {}", r.registration_id, r.offer_id, r.sku_id, r.activity),
            steps,
            points,
            windows,
            levels,
            x_range: (lo, hi),
            y_min: (y_min - pad).max(0.0),
            y_max: y_max + pad,
            origin: o,
        }
    }
}

const LEVEL_COLORS: [RGBColor; 6] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 90, 200),
    RGBColor(20, 140, 160),
    RGBColor(130, 60, 170),
    RGBColor(150, 100, 30),
    RGBColor(40, 140, 60),
];
const WINDOW_COLORS: [RGBColor; 4] =
    [RGBColor(120, 160, 230), RGBColor(150, 200, 240), RGBColor(245, 180, 90), RGBColor(140, 210, 140)];

/// Render the chart as an SVG document.
pub fn render(c: &ChartData) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 420)).into_drawing_area();
        let _ = root.fill(&WHITE);
        // the plot on the left, its legend beside it (never over the data)
        let (plot, side) = root.split_horizontally(760);
        let mut chart = match ChartBuilder::on(&plot)
            .caption(&c.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(c.x_range.0..c.x_range.1, c.y_min..c.y_max)
        {
            Ok(ch) => ch,
            Err(_) => return out_of(&c.title),
        };
        let origin = c.origin;
        let date = move |x: &f64| {
            let t = origin + (x * MICROS_PER_DAY as f64).round() as i64;
            chrono::DateTime::from_timestamp_micros(t).map_or(String::new(), |d| d.format("%m-%d").to_string())
        };
        let _ = chart
            .configure_mesh()
            .x_desc("date (UTC; day 0 = registration)")
            .y_desc("price")
            .x_label_formatter(&date)
            .light_line_style(RGBColor(235, 235, 235))
            .draw();
        let mut legend: Vec<(String, Swatch)> = Vec::new();
        for (label, a, b) in c.windows.iter() {
            let color = match label.as_str() {
                "lowest_30d" => WINDOW_COLORS[0],
                "lowest_180d" => WINDOW_COLORS[1],
                "warm-up" => WINDOW_COLORS[2],
                "promo" => RGBColor(230, 120, 120),
                _ => WINDOW_COLORS[3],
            };
            let _ = chart
                .draw_series(std::iter::once(Rectangle::new([(*a, c.y_min), (*b, c.y_max)], color.mix(0.18).filled())));
            legend.push((format!("window: {label}"), Swatch::Box(color)));
        }
        let grey = RGBColor(170, 170, 170);
        let blue = RGBColor(20, 20, 20);
        let _ = chart.draw_series(c.steps.iter().map(|(a, b, p, counted)| {
            PathElement::new(
                vec![(*a, *p), (*b, *p)],
                if *counted { blue.stroke_width(2) } else { grey.stroke_width(2) },
            )
        }));
        legend.push(("list price in force".into(), Swatch::Line(blue)));
        let _ = chart.draw_series(
            c.points
                .iter()
                .map(|(x, p, counted)| Circle::new((*x, *p), 3, if *counted { blue.filled() } else { grey.filled() })),
        );
        legend.push(("transaction (grey: excluded)".into(), Swatch::Dot(blue)));
        for (i, (label, v)) in c.levels.iter().enumerate() {
            let color = LEVEL_COLORS[i % LEVEL_COLORS.len()];
            let (a, b) = c.x_range;
            let _ = chart.draw_series(DashedLineSeries::new(vec![(a, *v), (b, *v)], 6, 4, color.stroke_width(1)));
            legend.push((format!("{label}: {v}"), Swatch::Line(color)));
        }
        // the legend, beside the plot
        for (i, (label, swatch)) in legend.iter().enumerate() {
            let y = 50 + 20 * i as i32;
            let _ = match *swatch {
                Swatch::Box(color) => side.draw(&Rectangle::new([(8, y - 5), (22, y + 5)], color.mix(0.4).filled())),
                Swatch::Line(color) => side.draw(&PathElement::new(vec![(8, y), (22, y)], color.stroke_width(2))),
                Swatch::Dot(color) => side.draw(&Circle::new((15, y), 3, color.filled())),
            };
            let _ = side.draw(&Text::new(label.clone(), (28, y - 6), ("sans-serif", 11)));
        }
        let _ = root.present();
    }
    out
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    Box(RGBColor),
    Line(RGBColor),
    Dot(RGBColor),
}

fn out_of(title: &str) -> String {
    format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"40\"><text x=\"4\" y=\"24\">{title}: no chart</text></svg>")
}
