//! Renderers shared by every report: table (terminal), CSV, JSON (an array of row objects) and
//! Markdown. A report is a list of sections; CSV and JSON carry only the first (the rows), table
//! and Markdown also show the totals sections and the notes.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// Output format of a report (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Markdown,
}

/// One value, typed by what it means so each format can show it properly.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    /// A fraction 0..1; a table shows it as a percentage, CSV/JSON as the fraction.
    Fraction(f64),
    /// Hashes per second; a table shows it with an SI prefix, CSV/JSON as the number.
    Hashrate(f64),
    /// Unix seconds, shown as UTC date and time.
    Time(i64),
    /// Unix seconds at UTC midnight, shown as a date.
    Date(i64),
    Bool(bool),
    /// Text; from data (worker names...) so guarded in CSV and escaped in Markdown/HTML.
    Text(String),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn opt_text(s: Option<String>) -> Cell {
        s.map_or(Cell::Null, Cell::Text)
    }

    pub fn opt_fraction(v: Option<f64>) -> Cell {
        v.map_or(Cell::Null, Cell::Fraction)
    }

    fn is_numeric(&self) -> bool {
        matches!(
            self,
            Cell::Int(_) | Cell::Real(_) | Cell::Fraction(_) | Cell::Hashrate(_)
        )
    }

    /// Human form: tables, Markdown, HTML.
    pub fn display(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(v) => v.to_string(),
            Cell::Real(v) if v.abs() >= 1e7 => format!("{v:.3e}"),
            Cell::Real(v) => format!("{v}"),
            Cell::Fraction(v) => format_percent(*v),
            Cell::Hashrate(v) => format_hashrate(*v),
            Cell::Time(ts) => format_time(*ts),
            Cell::Date(ts) => format_date(*ts),
            Cell::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Cell::Text(s) => s.clone(),
        }
    }

    /// Machine form: CSV (before the formula guard) and JSON strings.
    fn machine(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(v) => v.to_string(),
            Cell::Real(v) | Cell::Fraction(v) | Cell::Hashrate(v) => format!("{v}"),
            Cell::Time(ts) => format_time_iso(*ts),
            Cell::Date(ts) => format_date(*ts),
            Cell::Bool(b) => b.to_string(),
            Cell::Text(s) => s.clone(),
        }
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Cell::Null => Value::Null,
            Cell::Int(v) => Value::from(*v),
            Cell::Real(v) | Cell::Fraction(v) | Cell::Hashrate(v) => {
                serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number)
            }
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Time(_) | Cell::Date(_) | Cell::Text(_) => Value::String(self.machine()),
        }
    }
}

/// Rows under named columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Columns only CSV and JSON carry (kept there for existing consumers, e.g. `puid`);
    /// tables for people leave them out.
    pub machine_only: Vec<String>,
}

impl Table {
    pub fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
            machine_only: Vec::new(),
        }
    }

    /// Marks columns as CSV/JSON only.
    pub fn machine_only(mut self, columns: &[&str]) -> Table {
        self.machine_only = columns.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// The same rows with the first `limit` rows only.
    pub fn first_rows(&self, limit: usize) -> Table {
        Table {
            columns: self.columns.clone(),
            rows: self.rows.iter().take(limit).cloned().collect(),
            machine_only: self.machine_only.clone(),
        }
    }

    /// The table people see: without the machine-only columns.
    pub fn for_people(&self) -> Cow<'_, Table> {
        if self.machine_only.is_empty() {
            return Cow::Borrowed(self);
        }
        let keep: Vec<bool> = self
            .columns
            .iter()
            .map(|c| !self.machine_only.contains(c))
            .collect();
        let pick = |cells: &[Cell]| -> Vec<Cell> {
            cells
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c.clone())
                .collect()
        };
        Cow::Owned(Table {
            columns: self
                .columns
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c.clone())
                .collect(),
            rows: self.rows.iter().map(|r| pick(r)).collect(),
            machine_only: Vec::new(),
        })
    }
}

/// A titled table with notes under it.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub title: Option<String>,
    pub table: Table,
    pub notes: Vec<String>,
}

/// What a report command prints: its rows (first section) and, for people, totals and notes.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub title: String,
    pub sections: Vec<Section>,
}

/// Renders a report; `unicode` picks box-drawing characters for a terminal (never colour).
pub fn render(report: &Report, format: Format, unicode: bool) -> String {
    let empty = Table::default();
    let rows = report.sections.first().map_or(&empty, |s| &s.table);
    match format {
        Format::Csv => to_csv(rows),
        Format::Json => to_json(rows),
        Format::Table => {
            let mut out = format!("{}\n", escape_controls(&report.title));
            for section in &report.sections {
                out.push('\n');
                if let Some(title) = &section.title {
                    let _ = writeln!(out, "{}", escape_controls(title));
                }
                let (table, footnotes) = footnote_notes(&section.table);
                if !table.columns.is_empty() {
                    if table.rows.is_empty() {
                        out.push_str("(no rows)\n");
                    } else {
                        out.push_str(&to_text_table(&table, unicode));
                        out.push('\n');
                    }
                }
                for note in footnotes.iter().chain(&section.notes) {
                    let _ = writeln!(out, "note: {}", escape_controls(note));
                }
            }
            out
        }
        Format::Markdown => {
            let mut out = format!("# {}\n", markdown_escape(&report.title));
            for section in &report.sections {
                out.push('\n');
                if let Some(title) = &section.title {
                    let _ = writeln!(out, "## {}\n", markdown_escape(title));
                }
                let (table, footnotes) = footnote_notes(&section.table);
                if !table.columns.is_empty() {
                    if table.rows.is_empty() {
                        out.push_str("_No rows._\n");
                    } else {
                        out.push_str(&to_markdown_table(&table));
                    }
                }
                if !section.notes.is_empty() || !footnotes.is_empty() {
                    out.push('\n');
                    for note in footnotes.iter().chain(&section.notes) {
                        let _ = writeln!(out, "- {}", markdown_escape(note));
                    }
                }
            }
            out
        }
    }
}

/// For people, a long `note` column becomes numbered footnotes under the table: the cell keeps
/// `[n]`, the note reads "[n] worker_name: text". CSV and JSON keep the column as it is.
pub fn footnote_notes(table: &Table) -> (Table, Vec<String>) {
    let Some(note_col) = table.columns.iter().position(|c| c == "note") else {
        return (table.clone(), Vec::new());
    };
    let label_col = table.columns.iter().position(|c| c == "worker_name");
    let mut out = table.clone();
    let mut notes = Vec::new();
    for row in &mut out.rows {
        if let Some(Cell::Text(text)) = row.get(note_col).cloned() {
            let n = notes.len() + 1;
            let label = label_col
                .and_then(|i| row.get(i))
                .map(|c| format!("{}: ", c.display()))
                .unwrap_or_default();
            notes.push(format!("[{n}] {label}{text}"));
            row[note_col] = Cell::Text(format!("[{n}]"));
        }
    }
    (out, notes)
}

/// A plain text table (comfy-table); numbers right-aligned; no colour, no wrapping.
pub fn to_text_table(table: &Table, unicode: bool) -> String {
    use comfy_table::{presets, CellAlignment, ContentArrangement};
    let table = table.for_people();
    let mut t = comfy_table::Table::new();
    t.load_style(if unicode {
        presets::UTF8_FULL_CONDENSED
    } else {
        presets::ASCII_FULL_CONDENSED
    });
    t.set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(table.columns.iter().map(|c| escape_controls(c)));
    for row in &table.rows {
        t.add_row(row.iter().map(|c| {
            let cell = comfy_table::Cell::new(escape_controls(&c.display()));
            if c.is_numeric() {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    t.to_string()
}

/// Shows the characters that could drive a terminal or reorder text as visible escapes
/// (`\x1b`, `\n`, `\u{202e}`): worker and group names come from miners. Every text output
/// (table, CSV, Markdown, plain lines, HTML) passes its data through here.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && is_hidden_control(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_hidden_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// C0, DEL and C1 controls, and the bidirectional controls that reorder how text is displayed.
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// serde_json escapes C0 controls only; DEL, C1 and bidi controls become `\uXXXX` escapes too,
/// so the JSON decodes to the same text but cannot drive a terminal it is printed on.
pub fn json_escape_controls(json: String) -> String {
    if !json.chars().any(is_hidden_control) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_hidden_control(c) {
            // Outside strings JSON has only ASCII punctuation and whitespace, all left as is.
            if c.is_ascii() && c != '\u{7f}' {
                out.push(c);
            } else {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A GitHub-flavoured Markdown table; cell text is escaped so a name cannot add markup or HTML.
pub fn to_markdown_table(table: &Table) -> String {
    let table = table.for_people();
    let mut out = String::new();
    out.push('|');
    for c in &table.columns {
        let _ = write!(out, " {} |", markdown_escape(c));
    }
    out.push_str("\n|");
    for (i, _) in table.columns.iter().enumerate() {
        let numeric = table
            .rows
            .iter()
            .find_map(|r| r.get(i).filter(|c| !matches!(c, Cell::Null)))
            .is_some_and(Cell::is_numeric);
        out.push_str(if numeric { " ---: |" } else { " --- |" });
    }
    out.push('\n');
    for row in &table.rows {
        out.push('|');
        for cell in row {
            let _ = write!(out, " {} |", markdown_escape(&cell.display()));
        }
        out.push('\n');
    }
    out
}

/// Backslash-escapes Markdown punctuation and HTML angle brackets; control characters are shown
/// escaped (`escape_controls`) so a cell stays on its line.
pub fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape_controls(s).chars() {
        match c {
            '\\' | '|' | '<' | '>' | '*' | '_' | '`' | '[' | ']' | '&' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// CSV with a header; text cells are guarded against spreadsheet formula injection.
pub fn to_csv(table: &Table) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail; errors would only come from the sink.
    let _ = writer.write_record(
        table
            .columns
            .iter()
            .map(|c| escape_controls(c).into_owned()),
    );
    for row in &table.rows {
        let _ = writer.write_record(row.iter().map(csv_field));
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The CSV form of a cell: numbers, times and booleans as they are (a negative number keeps its
/// `-`); text cells (which come from miners and the pool) have control characters shown escaped
/// and get `'` in front when they start with `=`, `+`, `-`, `@`, tab or CR, so a spreadsheet
/// shows them instead of evaluating them.
pub fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => csv_guard(&escape_controls(s)),
        other => other.machine(),
    }
}

pub fn csv_guard(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// An array of row objects, one per line, keys in column order.
pub fn to_json(table: &Table) -> String {
    if table.rows.is_empty() {
        return "[]\n".to_owned();
    }
    let mut out = String::from("[\n");
    for (i, row) in table.rows.iter().enumerate() {
        out.push_str("  {");
        for (j, (name, cell)) in table.columns.iter().zip(row).enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            let key = serde_json::Value::String(name.clone());
            let _ = write!(out, "{key}: {}", cell.json());
        }
        out.push('}');
        if i + 1 < table.rows.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    json_escape_controls(out)
}

pub fn format_percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

pub fn format_hashrate(hs: f64) -> String {
    const UNITS: [&str; 7] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"];
    let mut value = hs;
    let mut unit = 0;
    while value.abs() >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

fn datetime(ts: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(ts, 0)
}

pub fn format_time(ts: i64) -> String {
    datetime(ts).map_or_else(
        || ts.to_string(),
        |d| d.format("%Y-%m-%d %H:%M").to_string(),
    )
}

pub fn format_time_iso(ts: i64) -> String {
    datetime(ts).map_or_else(
        || ts.to_string(),
        |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

pub fn format_date(ts: i64) -> String {
    datetime(ts).map_or_else(|| ts.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_guard_prefixes_formula_starts_but_not_negative_numbers() {
        assert_eq!(csv_guard("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_guard("-rig"), "'-rig");
        assert_eq!(csv_guard("\tx"), "'\tx");
        assert_eq!(csv_guard("rig-1"), "rig-1");
        assert_eq!(csv_field(&Cell::Real(-1.5)), "-1.5");
        assert_eq!(csv_field(&Cell::Int(-3)), "-3");
    }

    #[test]
    fn control_and_bidi_characters_are_shown_escaped() {
        assert_eq!(
            escape_controls("rig\x1b[31m\x07\x00\u{202e}x\u{9b}\n\u{7f}"),
            "rig\\x1b[31m\\x07\\x00\\u{202e}x\\u{9b}\\n\\x7f"
        );
        assert!(matches!(escape_controls("rig-1 ü"), Cow::Borrowed(_)));
        assert_eq!(markdown_escape("a\x1bb"), "a\\\\x1bb");
        let json = json_escape_controls("[\"a\u{202e}\u{9b}\u{7f}\"]\n".to_owned());
        assert_eq!(json, "[\"a\\u202e\\u009b\\u007f\"]\n");
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ["a\u{202e}\u{9b}\u{7f}"]);
    }

    #[test]
    fn hashrate_gets_an_si_prefix() {
        assert_eq!(format_hashrate(1.5e12), "1.50 TH/s");
        assert_eq!(format_hashrate(0.0), "0.00 H/s");
    }

    #[test]
    fn markdown_escape_neutralises_html_and_pipes() {
        assert_eq!(
            markdown_escape("<script>a|b</script>"),
            "\\<script\\>a\\|b\\</script\\>"
        );
    }
}
