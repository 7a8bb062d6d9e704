//! The monthly report as one self-contained HTML page: inline CSS, inline SVG charts, no
//! script, no external fonts, images or links. Every text from data goes through `escape`.

use std::fmt::Write as _;

use super::monthly::{outages_table, MonthlyData, LEADERS, LIST_ROWS};
use super::render::{format_date, format_hashrate, format_percent, format_time, Cell, Table};

/// Escapes text for HTML element content and attribute values. Control and bidi characters are
/// shown escaped as in every other output: a browser does not run them, but U+202E would still
/// display a worker's name reversed, and the page may be opened as text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in super::render::escape_controls(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1f2933; background: #f5f7fa; margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid #d9e2ec; padding-bottom: 4px; }
p.sub, p.note { color: #52606d; font-size: 13px; margin: 4px 0 10px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 10px 14px;
        min-width: 150px; }
.card .label { font-size: 12px; color: #52606d; }
.card .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
.card.bad .value { color: #c62828; }
.panel { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 12px;
         overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; background: #fff; }
th, td { border: 1px solid #d9e2ec; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #f0f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font-family: inherit; }
code { white-space: nowrap; }
dl { font-size: 13px; } dt { font-weight: 600; margin-top: 6px; } dd { margin-left: 16px; }
"#;

pub fn render_html(data: &MonthlyData) -> String {
    let mut h = String::new();
    let title = escape(&data.title());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n\
         <p class=\"sub\">{} &middot; generated {} UTC &middot; all times UTC</p>\n\
         <p class=\"sub\">{}</p>\n",
        escape(&data.period.describe()),
        escape(&format_time(data.generated_at)),
        escape(&data.accounts_line()),
    );

    h.push_str("<div class=\"cards\">\n");
    for (label, shown, value) in data.totals() {
        let bad = match (label, &value) {
            ("Workers down all month" | "Still down at period end", Cell::Int(n)) => *n > 0,
            ("Account uptime", Cell::Fraction(u)) => *u < 0.95,
            _ => false,
        };
        let _ = writeln!(
            h,
            "<div class=\"card{}\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
            if bad { " bad" } else { "" },
            escape(label),
            escape(&shown)
        );
    }
    h.push_str("</div>\n");

    h.push_str("<h2>Account hashrate per day</h2>\n");
    h.push_str(
        "<p class=\"note\">Accepted hashrate of the whole account, daily mean. A break in the \
         line is a day without data.</p>\n<div class=\"panel\">",
    );
    h.push_str(&line_chart(data));
    h.push_str("</div>\n");

    h.push_str("<h2>Uptime heatmap</h2>\n");
    let (rows, hidden) = data.heatmap_workers();
    let _ = writeln!(
        h,
        "<p class=\"note\">One row per worker, one column per day: the share of that day's \
         hours the worker was hashing. Worst workers at the top.{}</p>",
        if hidden > 0 {
            format!(
                " Showing the {} workers with the lowest uptime of {}; the rest are in the CSV \
                 files (<code>--csv</code>).",
                rows.len(),
                rows.len() + hidden
            )
        } else {
            String::new()
        }
    );
    h.push_str("<div class=\"panel\">");
    h.push_str(&heatmap(data, &rows));
    h.push_str("</div>\n");

    h.push_str("<h2>Reject-rate leaders</h2>\n");
    h.push_str(
        "<p class=\"note\">Workers with the highest share of rejected work this month \
         (accept-weighted: busy hours count more than idle ones).</p>\n<div class=\"panel\">",
    );
    h.push_str(&bar_chart(data));
    h.push_str("</div>\n");

    h.push_str("<h2>Uptime by group</h2>\n<div class=\"panel\">");
    h.push_str(&html_table(&super::uptime::totals_table(
        Some("group"),
        &data.uptime_groups,
    )));
    h.push_str("</div>\n");

    h.push_str("<h2>Outages, longest first</h2>\n");
    let outages = outages_table(&data.outages);
    if outages.rows.is_empty() {
        h.push_str("<p>No outages this month.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<p class=\"note\">An outage is an unbroken run of hours without accepted hashrate. \
             An empty “up again” means still down at the end of the period.{}</p>",
            if outages.rows.len() > LIST_ROWS {
                format!(
                    " Showing {LIST_ROWS} of {}; all are in the CSV files.",
                    outages.rows.len()
                )
            } else {
                String::new()
            }
        );
        h.push_str("<div class=\"panel\">");
        h.push_str(&html_table(&outages.first_rows(LIST_ROWS)));
        h.push_str("</div>\n");
    }

    h.push_str("<h2>Data gaps</h2>\n");
    let gaps = super::gaps::gaps_table(&data.gaps);
    if gaps.rows.is_empty() {
        h.push_str("<p>No missing history this month: every hour is accounted for.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<p class=\"note\">Hours or days with no stored data. {}</p>",
            escape(super::gaps::GAPS_NOTE)
        );
        h.push_str("<div class=\"panel\">");
        h.push_str(&html_table(&gaps.first_rows(LIST_ROWS)));
        h.push_str("</div>\n");
    }

    h.push_str(
        "<h2>How to read this</h2>\n<dl>\n\
         <dt>Uptime</dt><dd>Share of a worker's hours with accepted hashrate above zero. Hours \
         count from the later of the month start and the worker's first hourly data point, up to \
         the month end (or the current hour). Missing hours count as down.</dd>\n\
         <dt>Outage</dt><dd>An unbroken run of down hours; one that started before the month or \
         goes on after it is cut at the month boundary.</dd>\n\
         <dt>Reject rate</dt><dd>Rejected share of the work, weighted by accepted hashrate: \
         sum(hashrate &times; hours &times; reject rate) / sum(hashrate &times; hours). A tiny \
         worker with a high rate does not dominate.</dd>\n</dl>\n",
    );
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn html_table(table: &Table) -> String {
    let table = table.for_people();
    let mut h = String::from("<table>\n<tr>");
    for c in &table.columns {
        let _ = write!(h, "<th>{}</th>", escape(&c.replace('_', " ")));
    }
    h.push_str("</tr>\n");
    for row in &table.rows {
        h.push_str("<tr>");
        for cell in row {
            let numeric = matches!(
                cell,
                Cell::Int(_) | Cell::Real(_) | Cell::Fraction(_) | Cell::Hashrate(_)
            );
            let _ = write!(
                h,
                "<td{}>{}</td>",
                if numeric { " class=\"num\"" } else { "" },
                escape(&cell.display())
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

/// Rounds up to 1, 2 or 5 times a power of ten, for axis maxima.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

fn line_chart(data: &MonthlyData) -> String {
    let (width, height) = (1100.0, 300.0);
    let (left, right, top, bottom) = (90.0, 20.0, 16.0, 40.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let n = data.daily.len().max(1);
    let max = data
        .daily
        .iter()
        .filter_map(|d| d.hashrate_hs)
        .fold(0.0, f64::max);
    let y_max = nice_ceiling(max * 1.05);
    let x = |i: usize| left + plot_w * (i as f64 + 0.5) / n as f64;
    let y = |v: f64| top + plot_h * (1.0 - v / y_max);

    let mut s = format!(
        "<svg width=\"100%\" style=\"max-width: {width}px\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Account hashrate per day\">\n"
    );
    for k in 0..=4 {
        let v = y_max * f64::from(k) / 4.0;
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e7eb\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#52606d\">{}</text>",
            width - right,
            left - 8.0,
            y(v) + 4.0,
            escape(&format_hashrate(v)),
            y = y(v)
        );
    }
    for (i, d) in data.daily.iter().enumerate() {
        let label = format_date(d.day_ts);
        let day = label.get(8..).unwrap_or(&label);
        if n <= 31 || i % 2 == 0 {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#52606d\">{}</text>",
                x(i),
                height - bottom + 16.0,
                escape(day)
            );
        }
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#52606d\">day of {}</text>",
        left + plot_w / 2.0,
        height - 6.0,
        escape(&data.month)
    );
    // The line, broken at days without data.
    let mut path = String::new();
    let mut pen_down = false;
    for (i, d) in data.daily.iter().enumerate() {
        match d.hashrate_hs {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if pen_down { "L" } else { "M" },
                    x(i),
                    y(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if !path.is_empty() {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"none\" stroke=\"#2f80ed\" stroke-width=\"2.5\"/>",
            path.trim_end()
        );
    }
    for (i, d) in data.daily.iter().enumerate() {
        if let Some(v) = d.hashrate_hs {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#2f80ed\"><title>{}: {}</title></circle>",
                x(i),
                y(v),
                escape(&format_date(d.day_ts)),
                escape(&format_hashrate(v))
            );
        }
    }
    if max <= 0.0 {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" text-anchor=\"middle\" fill=\"#52606d\">No account hashrate stored for this month</text>",
            left + plot_w / 2.0,
            top + plot_h / 2.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Fill colour of a heatmap cell.
fn uptime_colour(uptime: Option<f64>) -> &'static str {
    match uptime {
        None => "#e4e7eb",
        Some(u) if u >= 0.999 => "#1a9850",
        Some(u) if u >= 0.9 => "#91cf60",
        Some(u) if u >= 0.5 => "#fee08b",
        Some(u) if u > 0.0 => "#fc8d59",
        Some(_) => "#d73027",
    }
}

fn heatmap(data: &MonthlyData, rows: &[&super::uptime::UptimeRow]) -> String {
    let days = data.days();
    let cells = data.day_index_of(rows);
    let (name_w, cell_w, cell_h, head_h, right_w) = (240.0, 26.0, 18.0, 24.0, 80.0);
    // The month column sits right of the cells; the picture is wide enough for the legend even
    // when the period has few days.
    let grid_right = name_w + cell_w * days.len() as f64 + right_w;
    let width = grid_right.max(name_w + 6.0 * 120.0);
    let legend_h = 40.0;
    let height = head_h + cell_h * rows.len() as f64 + legend_h;
    let mut s = format!(
        "<svg width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Uptime heatmap\">\n"
    );
    for (j, day) in days.iter().enumerate() {
        let label = format_date(*day);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"16\" font-size=\"11\" text-anchor=\"middle\" fill=\"#52606d\">{}</text>",
            name_w + cell_w * (j as f64 + 0.5),
            escape(label.get(8..).unwrap_or(&label))
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"16\" font-size=\"11\" text-anchor=\"end\" fill=\"#52606d\">month</text>",
        grid_right - 8.0
    );
    for (i, row) in rows.iter().enumerate() {
        let y = head_h + cell_h * i as f64;
        let label = data.worker_label(&row.pool, &row.account, &row.worker_name);
        let name: String = label.chars().take(30).collect();
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}<title>{}</title></text>",
            name_w - 8.0,
            y + cell_h - 5.0,
            escape(&name),
            escape(&label)
        );
        for (j, day) in days.iter().enumerate() {
            let uptime = cells
                .get(&(row.account_id, row.worker_id, *day))
                .copied()
                .flatten();
            let tip = match uptime {
                Some(u) => format_percent(u),
                None => "not counted".to_owned(),
            };
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#fff\"><title>{} {}: {}</title></rect>",
                name_w + cell_w * j as f64,
                cell_w,
                cell_h,
                uptime_colour(uptime),
                escape(&label),
                escape(&format_date(*day)),
                escape(&tip)
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
            grid_right - 8.0,
            y + cell_h - 5.0,
            escape(
                &row.uptime
                    .map_or_else(|| "no data".to_owned(), format_percent)
            )
        );
    }
    let legend_y = head_h + cell_h * rows.len() as f64 + 14.0;
    let legend = [
        (Some(1.0), "100 %"),
        (Some(0.95), "90-99 %"),
        (Some(0.6), "50-89 %"),
        (Some(0.2), "1-49 %"),
        (Some(0.0), "down all day"),
        (None, "not counted"),
    ];
    let mut lx = name_w;
    for (value, label) in legend {
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.1}\" y=\"{legend_y:.1}\" width=\"14\" height=\"14\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            uptime_colour(value),
            lx + 18.0,
            legend_y + 11.0,
            escape(label)
        );
        lx += 120.0;
    }
    if rows.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{name_w}\" y=\"{:.1}\" font-size=\"13\">No workers.</text>",
            head_h + 4.0
        );
    }
    s.push_str("</svg>");
    s
}

fn bar_chart(data: &MonthlyData) -> String {
    let leaders: Vec<_> = data
        .reject
        .iter()
        .filter(|r| r.reject_rate.is_some())
        .take(LEADERS)
        .collect();
    let (name_w, bar_w, row_h, top) = (240.0, 700.0, 24.0, 22.0);
    let width = name_w + bar_w + 200.0;
    let height = top + 8.0 + row_h * leaders.len().max(1) as f64;
    let max = leaders
        .iter()
        .filter_map(|r| r.reject_rate)
        .fold(0.0, f64::max);
    let scale = nice_ceiling(max);
    let account = data.reject_account.reject_rate();
    let mut s = format!(
        "<svg width=\"100%\" style=\"max-width: {width}px\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Reject-rate leaders\">\n"
    );
    if leaders.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"8\" y=\"24\" font-size=\"13\">No accepted work this month.</text>"
        );
    }
    for (i, r) in leaders.iter().enumerate() {
        let rate = r.reject_rate.unwrap_or(0.0);
        let y = top + row_h * i as f64;
        let w = (bar_w * rate / scale).max(1.0);
        let label = data.worker_label(&r.pool, &r.account, &r.worker_name);
        let name: String = label.chars().take(30).collect();
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}<title>{}</title></text>\
             <rect x=\"{name_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#e07b39\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            name_w - 8.0,
            y + row_h - 8.0,
            escape(&name),
            escape(&label),
            y + 3.0,
            row_h - 6.0,
            name_w + w + 6.0,
            y + row_h - 8.0,
            escape(&format!(
                "{} at {}",
                format_percent(rate),
                format_hashrate(
                    r.accepted_hashes / ((r.hours_1h * 3600 + r.days_1d * 86_400).max(1) as f64)
                )
            ))
        );
    }
    if let Some(acct) = account.filter(|a| *a <= scale && !leaders.is_empty()) {
        let ax = name_w + bar_w * acct / scale;
        let _ = writeln!(
            s,
            "<line x1=\"{ax:.1}\" x2=\"{ax:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1f2933\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{:.1}\" y=\"12\" font-size=\"11\" fill=\"#1f2933\">account average {}</text>",
            top - 4.0,
            height - 4.0,
            ax + 4.0,
            escape(&format_percent(acct))
        );
    }
    s.push_str("</svg>");
    s
}
