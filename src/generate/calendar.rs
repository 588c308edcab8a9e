//! Dates and timestamps: instants relative to the end date and their formatted text.

use std::io;

use jiff::Span;
use jiff::civil::Date;

pub(super) const TOKYO_OFFSET: &str = "+09";
pub(super) const SECONDS_PER_DAY: u32 = 86_400;

/// A local instant in Asia/Tokyo: a day relative to the end date and a second of that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Stamp {
    pub(super) day: i32,
    pub(super) second: u32,
}

impl Stamp {
    pub(super) fn new(day: i32, second: u32) -> Self {
        Self { day, second }
    }

    /// The same instant as a UTC wall-clock time (Tokyo is UTC+9 all year).
    pub(super) fn in_utc(self) -> Self {
        let seconds_per_day = i64::from(SECONDS_PER_DAY);
        let utc = i64::from(self.day) * seconds_per_day + i64::from(self.second) - 9 * 3600;
        Self::new(
            utc.div_euclid(seconds_per_day) as i32,
            utc.rem_euclid(seconds_per_day) as u32,
        )
    }
}

/// The formatted dates of every day the generator can name, relative to the end date.
pub(super) struct Calendar {
    pub(super) first_day: i32,
    pub(super) dates: Vec<String>,
}

/// How far after the end date postings and plans may reach.
pub(super) const LAST_CALENDAR_DAY: i32 = 400;
/// How far before the action window accounts and postings may reach.
pub(super) const HISTORY_BEFORE_WINDOW_DAYS: i32 = 1_200;

impl Calendar {
    pub(super) fn new(end_date: Date, days: u32) -> io::Result<Self> {
        let window = i32::try_from(days).unwrap_or(i32::MAX / 2);
        let first_day = -(window.max(HISTORY_BEFORE_WINDOW_DAYS) + 10);
        let out_of_range = |error: jiff::Error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the end date {end_date} with {days} days is out of range: {error}"),
            )
        };
        let mut date = end_date
            .checked_sub(Span::new().days(i64::from(-first_day)))
            .map_err(out_of_range)?;
        let mut dates = Vec::with_capacity((LAST_CALENDAR_DAY - first_day + 1) as usize);
        for _ in first_day..=LAST_CALENDAR_DAY {
            dates.push(date.to_string());
            date = date.tomorrow().map_err(out_of_range)?;
        }
        Ok(Self { first_day, dates })
    }

    pub(super) fn date(&self, day: i32) -> &str {
        let index = (day - self.first_day).clamp(0, self.dates.len() as i32 - 1);
        &self.dates[index as usize]
    }

    /// Appends `YYYY-MM-DD HH:MM:SS` and the given offset.
    pub(super) fn push_stamp(&self, out: &mut String, stamp: Stamp, offset: &str) {
        out.push_str(self.date(stamp.day));
        out.push(' ');
        push_two_digits(out, stamp.second / 3600);
        out.push(':');
        push_two_digits(out, stamp.second / 60 % 60);
        out.push(':');
        push_two_digits(out, stamp.second % 60);
        out.push_str(offset);
    }
}

pub(super) fn push_two_digits(out: &mut String, value: u32) {
    out.push(char::from(b'0' + (value / 10 % 10) as u8));
    out.push(char::from(b'0' + (value % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_copies_name_the_same_instant() {
        let calendar = Calendar::new(jiff::civil::date(2025, 7, 2), 10).unwrap();
        let mut tokyo = String::new();
        let afternoon = Stamp::new(-1, 13 * 3600 + 45 * 60 + 12);
        calendar.push_stamp(&mut tokyo, afternoon, TOKYO_OFFSET);
        assert_eq!(tokyo, "2025-07-01 13:45:12+09");
        let mut utc = String::new();
        calendar.push_stamp(&mut utc, afternoon.in_utc(), "+00");
        assert_eq!(utc, "2025-07-01 04:45:12+00");
        utc.clear();
        calendar.push_stamp(&mut utc, Stamp::new(-1, 3 * 3600).in_utc(), "+00");
        assert_eq!(utc, "2025-06-30 18:00:00+00");
    }
}
