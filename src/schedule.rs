//! The daily run's schedule: a five-field cron expression (minute hour day-of-month month
//! day-of-week) in the configured time zone, default `0 3 * * *` (03:00 Asia/Tokyo).
//!
//! Fields take `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n` or `a-b/n`; day of
//! week counts 0 (or 7) as Sunday. As in cron, when both day fields are restricted, a day
//! matching either one fires.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use thiserror::Error;

/// The default schedule of the daily run.
pub const DEFAULT_SCHEDULE: &str = "0 3 * * *";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("cron expression {0:?} must have 5 fields: minute hour day-of-month month day-of-week")]
    FieldCount(String),
    #[error("cron field {field} {value:?}: {reason}")]
    Field {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    expression: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    day_of_month_any: bool,
    day_of_week_any: bool,
}

fn parse_field(
    field: &'static str,
    text: &str,
    min: u32,
    max: u32,
) -> Result<(u64, bool), ScheduleError> {
    let error = |reason| ScheduleError::Field {
        field,
        value: text.to_owned(),
        reason,
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .map_err(|_| error("the step is not a number"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(error("the step must be at least 1"));
        }
        let (start, end) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = a.parse::<u32>().map_err(|_| error("not a number"))?;
            let b = b.parse::<u32>().map_err(|_| error("not a number"))?;
            (a, b)
        } else {
            let value = range.parse::<u32>().map_err(|_| error("not a number"))?;
            (value, if part.contains('/') { max } else { value })
        };
        if start < min || end > max || start > end {
            return Err(error("out of range"));
        }
        let mut value = start;
        while value <= end {
            bits |= 1 << value;
            value += step;
        }
    }
    Ok((bits, text == "*"))
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, ScheduleError> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(ScheduleError::FieldCount(expression.to_owned()));
        };
        let (minutes, _) = parse_field("minute", minute, 0, 59)?;
        let (hours, _) = parse_field("hour", hour, 0, 23)?;
        let (days_of_month, day_of_month_any) = parse_field("day-of-month", day_of_month, 1, 31)?;
        let (months, _) = parse_field("month", month, 1, 12)?;
        let (mut days_of_week, day_of_week_any) = parse_field("day-of-week", day_of_week, 0, 7)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        Ok(Self {
            expression: expression.trim().to_owned(),
            minutes,
            hours: hours as u32,
            days_of_month: days_of_month as u32,
            months: months as u16,
            days_of_week: (days_of_week & 0x7f) as u8,
            day_of_month_any,
            day_of_week_any,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    fn day_matches(&self, local: DateTime) -> bool {
        let dom = self.days_of_month & (1 << local.day()) != 0;
        let dow = self.days_of_week & (1 << local.weekday().to_sunday_zero_offset()) != 0;
        match (self.day_of_month_any, self.day_of_week_any) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first instant strictly after `after` that the schedule fires at, in `zone`.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(zone.clone()).datetime();
        let mut local = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        // At most eight years of days: enough for 29 February on a Monday.
        let limit = start.checked_add(8.years()).ok()?;
        while local < limit {
            if self.months & (1 << local.month()) == 0 || !self.day_matches(local) {
                local = local
                    .date()
                    .checked_add(1.day())
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if self.hours & (1 << local.hour()) == 0 {
                local = local
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minutes & (1 << local.minute()) == 0 {
                local = local.checked_add(1.minute()).ok()?;
                continue;
            }
            if let Ok(zoned) = local.to_zoned(zone.clone())
                && zoned.timestamp() > after
            {
                return Some(zoned.timestamp());
            }
            local = local.checked_add(1.minute()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_fires_at_three_in_the_morning_tokyo_time() {
        let schedule = Schedule::parse(DEFAULT_SCHEDULE).unwrap();
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        // 2025-11-24T18:00Z is 03:00 on the 25th in Tokyo.
        assert_eq!(
            schedule.next_after(at("2025-11-24T17:59:00Z"), &tokyo),
            Some(at("2025-11-24T18:00:00Z"))
        );
        assert_eq!(
            schedule.next_after(at("2025-11-24T18:00:00Z"), &tokyo),
            Some(at("2025-11-25T18:00:00Z"))
        );
    }

    #[test]
    fn lists_ranges_steps_and_weekdays() {
        let utc = TimeZone::UTC;
        let schedule = Schedule::parse("*/15 9-10 * * 1-5").unwrap();
        // Saturday 2025-11-22 → Monday 09:00.
        assert_eq!(
            schedule.next_after(at("2025-11-22T12:00:00Z"), &utc),
            Some(at("2025-11-24T09:00:00Z"))
        );
        assert_eq!(
            schedule.next_after(at("2025-11-24T09:00:00Z"), &utc),
            Some(at("2025-11-24T09:15:00Z"))
        );
        assert_eq!(
            schedule.next_after(at("2025-11-24T10:45:00Z"), &utc),
            Some(at("2025-11-25T09:00:00Z"))
        );
        let sundays = Schedule::parse("30 6 * * 7").unwrap();
        assert_eq!(
            sundays.next_after(at("2025-11-24T00:00:00Z"), &utc),
            Some(at("2025-11-30T06:30:00Z"))
        );
        let leap = Schedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next_after(at("2025-03-01T00:00:00Z"), &utc),
            Some(at("2028-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn bad_expressions_say_which_field_is_wrong() {
        assert_eq!(
            Schedule::parse("0 3 * *"),
            Err(ScheduleError::FieldCount("0 3 * *".into()))
        );
        let error = Schedule::parse("0 25 * * *").unwrap_err();
        assert!(error.to_string().contains("hour"), "{error}");
        assert!(Schedule::parse("*/0 * * * *").is_err());
        assert!(Schedule::parse("a * * * *").is_err());
    }
}
