//! Inline SVG charts for the HTML report: line charts over the run's seconds and a horizontal
//! bar chart. Plain SVG elements with presentation attributes, inline in HTML5 (so without an
//! `xmlns`), needing no stylesheet, script or font beyond the browser's sans-serif.

use std::fmt::Write as _;

use super::html::escape;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 150.0; // room for the legend
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;

/// One line of a line chart.
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub dashed: bool,
    /// (x, y), x ascending.
    pub points: Vec<(f64, f64)>,
}

/// A line chart: x from 0 to the largest x, y from 0 to a rounded-up largest y.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x_max = all().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let y_max = all().map(|p| p.1).fold(0.0, f64::max);
    let (y_top, y_step) = nice_axis(y_max);
    let (x_top, x_step) = nice_axis(x_max);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let sx = |x: f64| LEFT + x / x_top * pw;
    let sy = |y: f64| TOP + ph - y / y_top * ph;

    let mut s = open(title);
    axes(&mut s, x_label, y_label);
    let mut y = 0.0;
    while y <= y_top + y_step / 2.0 {
        let py = sy(y);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            tick(y)
        );
        y += y_step;
    }
    let mut x = 0.0;
    while x <= x_top + x_step / 2.0 {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            sx(x),
            TOP + ph + 15.0,
            tick(x)
        );
        x += x_step;
    }
    for (i, line) in series.iter().enumerate() {
        let dash = if line.dashed {
            r#" stroke-dasharray="5,4""#
        } else {
            ""
        };
        if !line.points.is_empty() {
            s.push_str(r#"<polyline fill="none" stroke-width="1.6" points=""#);
            for &(x, y) in &line.points {
                let _ = write!(s, "{:.1},{:.1} ", sx(x), sy(y));
            }
            let _ = write!(s, r#"" stroke="{}"{dash}/>"#, line.color);
        }
        let ly = TOP + 8.0 + i as f64 * 16.0;
        let lx = WIDTH - RIGHT + 12.0;
        let _ = write!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            lx + 22.0,
            line.color,
            lx + 28.0,
            ly + 4.0,
            escape(&line.label)
        );
    }
    s.push_str("</svg>");
    s
}

/// A horizontal bar chart, one bar per (label, value), in the order given.
pub fn bar_chart(title: &str, bars: &[(String, u64, &'static str)]) -> String {
    let row = 20.0;
    let height = TOP + BOTTOM + row * bars.len().max(1) as f64;
    let label_w = 150.0;
    let pw = WIDTH - label_w - 80.0;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" role="img"><title>{t}</title><text x="{LEFT}" y="18" font-size="13" font-weight="bold">{t}</text>"#,
        t = escape(title)
    );
    if bars.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{label_w}" y="{}" font-size="12">none</text>"#,
            TOP + 14.0
        );
    }
    for (i, (label, value, color)) in bars.iter().enumerate() {
        let y = TOP + i as f64 * row;
        let w = (*value as f64 / max * pw).max(1.0);
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="11">{value}</text>"#,
            label_w - 6.0,
            y + 13.0,
            escape(label),
            y + 3.0,
            row - 6.0,
            label_w + w + 4.0,
            y + 13.0
        );
    }
    s.push_str("</svg>");
    s
}

fn open(title: &str) -> String {
    format!(
        r#"<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" role="img"><title>{t}</title><text x="{LEFT}" y="18" font-size="13" font-weight="bold">{t}</text>"#,
        t = escape(title)
    )
}

fn axes(s: &mut String, x_label: &str, y_label: &str) {
    let (x0, y0) = (LEFT, HEIGHT - BOTTOM);
    let _ = write!(
        s,
        r##"<line x1="{x0}" y1="{TOP}" x2="{x0}" y2="{y0}" stroke="#555"/><line x1="{x0}" y1="{y0}" x2="{:.1}" y2="{y0}" stroke="#555"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text><text x="14" y="{:.1}" text-anchor="middle" font-size="11" transform="rotate(-90 14 {:.1})">{}</text>"##,
        WIDTH - RIGHT,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 4.0,
        escape(x_label),
        (TOP + y0) / 2.0,
        (TOP + y0) / 2.0,
        escape(y_label)
    );
}

/// The axis top and tick step for data up to `max`: steps of 1, 2 or 5 × 10^k, about five
/// of them.
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.2);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&st| st >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn tick(v: f64) -> String {
    if v >= 1000.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_to_one_two_or_five_steps() {
        let close = |(a, b): (f64, f64), (c, d): (f64, f64)| (a - c).abs() + (b - d).abs() < 1e-9;
        assert!(close(nice_axis(93.0), (100.0, 20.0)));
        assert!(close(nice_axis(0.7), (0.8, 0.2)));
        assert!(close(nice_axis(1200.0), (1500.0, 500.0)));
        assert!(close(nice_axis(0.0), (1.0, 0.2)));
    }

    #[test]
    fn a_line_chart_draws_one_polyline_per_series_with_points() {
        let series = [
            Series {
                label: "call <offered>".into(),
                color: "#1f77b4",
                dashed: true,
                points: vec![(0.0, 1.0), (1.0, 3.0)],
            },
            Series {
                label: "empty".into(),
                color: "#ff7f0e",
                dashed: false,
                points: vec![],
            },
        ];
        let svg = line_chart("rate", "s", "req/s", &series);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("call &lt;offered&gt;"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
