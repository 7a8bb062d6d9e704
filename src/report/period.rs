//! The period a report covers: `--from/--to` or `--month`, resolved against an explicit `now`.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::ReportError;

pub const HOUR_S: i64 = 3600;
pub const DAY_S: i64 = 86_400;

/// `--from/--to` or `--month`, shared by the period reports.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PeriodArgs {
    /// Start of the period (inclusive): YYYY-MM-DD (UTC midnight) or RFC 3339.
    #[arg(long, value_name = "DATE", conflicts_with = "month")]
    pub from: Option<String>,
    /// End of the period (exclusive): YYYY-MM-DD (UTC midnight) or RFC 3339. Default: now.
    #[arg(long, value_name = "DATE", conflicts_with = "month")]
    pub to: Option<String>,
    /// A calendar month, YYYY-MM (UTC). Without --from/--month: the current month so far.
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
}

/// A resolved period: hour-aligned Unix seconds, `to` exclusive and capped at the current hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
    /// The end the user asked for, before the cap (to say "so far" in titles).
    pub requested_to: i64,
}

impl Period {
    /// Builds a period from Unix seconds: `from` rounded up and `to` rounded up to whole hours,
    /// `to` capped at the start of the current hour (the hour under way is not final yet).
    pub fn new(from: i64, to: i64, now: i64) -> Result<Period, ReportError> {
        if from >= to {
            return Err(ReportError::EmptyPeriod {
                from: super::render::format_time_iso(from),
                to: super::render::format_time_iso(to),
            });
        }
        let from_h = ceil_hour(from);
        let current_hour = now.div_euclid(HOUR_S) * HOUR_S;
        let to_h = ceil_hour(to).min(current_hour).max(from_h);
        Ok(Period {
            from: from_h,
            to: to_h,
            requested_to: to,
        })
    }

    pub fn hours(&self) -> i64 {
        (self.to - self.from) / HOUR_S
    }

    pub fn is_capped(&self) -> bool {
        self.to < ceil_hour(self.requested_to)
    }

    /// "2026-10-01 00:00 to 2026-10-03 00:00 UTC (48 h)", saying when it was cut at now.
    pub fn describe(&self) -> String {
        use super::render::format_time;
        let mut s = format!(
            "{} to {} UTC ({} h)",
            format_time(self.from),
            format_time(self.to),
            self.hours()
        );
        if self.is_capped() {
            s.push_str(", up to the current hour");
        }
        s
    }
}

fn ceil_hour(ts: i64) -> i64 {
    ts.div_euclid(HOUR_S) * HOUR_S + if ts.rem_euclid(HOUR_S) > 0 { HOUR_S } else { 0 }
}

impl PeriodArgs {
    pub fn resolve(&self, now: i64) -> Result<Period, ReportError> {
        if let Some(month) = &self.month {
            let (from, to) = parse_month(month)?;
            return Period::new(from, to, now);
        }
        match (&self.from, &self.to) {
            (Some(from), to) => {
                let from_ts = parse_instant(from, "--from")?;
                let to_ts = match to {
                    Some(t) => parse_instant(t, "--to")?,
                    None => now,
                };
                if from_ts >= to_ts {
                    return Err(ReportError::FromNotBeforeTo {
                        from: from.clone(),
                        to: to.clone().unwrap_or_else(|| "now".to_owned()),
                    });
                }
                Period::new(from_ts, to_ts, now)
            }
            (None, Some(_)) => Err(ReportError::ToWithoutFrom),
            (None, None) => {
                let today = DateTime::<Utc>::from_timestamp(now, 0)
                    .ok_or(ReportError::BadClock(now))?
                    .date_naive();
                let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1)
                    .ok_or(ReportError::BadClock(now))?;
                Period::new(midnight(first), now, now)
            }
        }
    }
}

fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map_or(0, |d| d.and_utc().timestamp())
}

/// `YYYY-MM` -> [first day 00:00, first day of next month 00:00) in Unix seconds.
pub fn parse_month(text: &str) -> Result<(i64, i64), ReportError> {
    let bad = || ReportError::BadMonth(text.to_owned());
    let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u32 = m.parse().map_err(|_| bad())?;
    let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .ok_or_else(bad)?;
    Ok((midnight(first), midnight(next)))
}

/// `YYYY-MM-DD` (UTC midnight) or RFC 3339 -> Unix seconds.
pub fn parse_instant(text: &str, flag: &'static str) -> Result<i64, ReportError> {
    let t = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(midnight(date));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp())
        .map_err(|_| ReportError::BadInstant {
            flag,
            value: text.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_762_000_000; // 2025-11-01 12:26:40 UTC

    #[test]
    fn month_covers_whole_utc_month() {
        assert_eq!(
            parse_month("2026-02").unwrap(),
            (1_769_904_000, 1_772_323_200)
        );
        assert_eq!(parse_month("2025-12").unwrap().1, 1_767_225_600);
    }

    #[test]
    fn unknown_month_is_a_clear_error() {
        let err = parse_month("2026-13").unwrap_err().to_string();
        assert!(err.contains("2026-13"), "{err}");
        assert!(parse_month("2026-1").is_err());
        assert!(parse_month("October").is_err());
    }

    #[test]
    fn from_after_to_is_an_error() {
        let args = PeriodArgs {
            from: Some("2025-10-05".into()),
            to: Some("2025-10-01".into()),
            month: None,
        };
        let err = args.resolve(NOW).unwrap_err().to_string();
        assert!(err.contains("--from 2025-10-05"), "{err}");
    }

    #[test]
    fn period_end_is_capped_at_the_current_hour() {
        let p = Period::new(NOW - 10 * HOUR_S, NOW + 50 * HOUR_S, NOW).unwrap();
        assert_eq!(p.to, NOW / HOUR_S * HOUR_S);
        assert!(p.is_capped());
    }

    #[test]
    fn rfc3339_with_offset_is_accepted() {
        assert_eq!(
            parse_instant("2025-11-01T14:26:40+02:00", "--from").unwrap(),
            NOW
        );
    }
}
