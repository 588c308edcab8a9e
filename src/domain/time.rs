//! Instants and dates as the input files write them, and the configured time zone.
//!
//! Timestamps look like `2025-07-02 00:00:00+09`: the offset may be `+09`, `+0900`,
//! `+09:00` or `Z`, or missing, in which case the configured zone (default Asia/Tokyo)
//! applies. Instants are kept as microseconds since the Unix epoch (UTC), so the same
//! instant written with two offsets is one value.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The default time zone of the product (SPEC §2).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("expected a date like 2025-07-02")]
    BadDate,
    #[error("expected a time like 13:45 or 13:45:12")]
    BadTime,
    #[error("expected an offset like +09, +09:00 or Z")]
    BadOffset,
    #[error("unexpected text after the timestamp")]
    TrailingText,
    #[error("the local time does not exist or is ambiguous in the configured time zone")]
    NoSuchLocalTime,
    #[error("unknown time zone {0:?}; use an IANA name such as Asia/Tokyo")]
    UnknownZone(String),
}

/// The configured time zone: where local dates (the batch date, "new" windows) are cut.
#[derive(Debug, Clone)]
pub struct TimeZoneSetting {
    name: String,
    zone: TimeZone,
}

impl TimeZoneSetting {
    pub fn parse(name: &str) -> Result<Self, TimeError> {
        let zone =
            TimeZone::get(name.trim()).map_err(|_| TimeError::UnknownZone(name.to_owned()))?;
        Ok(Self {
            name: name.trim().to_owned(),
            zone,
        })
    }

    pub fn tokyo() -> Self {
        Self::parse(DEFAULT_TIME_ZONE).expect("the bundled time zone database has Asia/Tokyo")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The instant of local midnight starting `date`.
    pub fn start_of_day(&self, date: Date) -> Micros {
        let timestamp = date
            .to_zoned(self.zone.clone())
            .expect("a local midnight exists for every date in supported zones")
            .timestamp();
        timestamp.as_microsecond()
    }

    /// The local date of an instant.
    pub fn date_of(&self, instant: Micros) -> Date {
        Timestamp::from_microsecond(instant)
            .expect("stored instants are in jiff's range")
            .to_zoned(self.zone.clone())
            .date()
    }

    /// Formats an instant as the input files write it (`2025-07-02 13:45:12+09`).
    pub fn format(&self, instant: Micros) -> String {
        let zoned = Timestamp::from_microsecond(instant)
            .expect("stored instants are in jiff's range")
            .to_zoned(self.zone.clone());
        let offset_seconds = zoned.offset().seconds();
        let sign = if offset_seconds < 0 { '-' } else { '+' };
        let hours = offset_seconds.abs() / 3600;
        let minutes = offset_seconds.abs() % 3600 / 60;
        let mut text = zoned.strftime("%Y-%m-%d %H:%M:%S").to_string();
        text.push(sign);
        text.push_str(&format!("{hours:02}"));
        if minutes != 0 {
            text.push_str(&format!(":{minutes:02}"));
        }
        text
    }

    /// Parses a timestamp cell; a timestamp without offset is local time in this zone.
    pub fn parse_timestamp(&self, raw: &str) -> Result<Micros, TimeError> {
        let parsed = parse_parts(raw.trim().as_bytes())?;
        match parsed.offset_seconds {
            Some(offset) => Ok(
                epoch_micros(parsed.date, parsed.seconds_of_day, parsed.micros)
                    - i64::from(offset) * MICROS_PER_SECOND,
            ),
            None => {
                let (hour, minute, second) = (
                    parsed.seconds_of_day / 3600,
                    parsed.seconds_of_day / 60 % 60,
                    parsed.seconds_of_day % 60,
                );
                let local = DateTime::new(
                    parsed.date.year(),
                    parsed.date.month(),
                    parsed.date.day(),
                    hour as i8,
                    minute as i8,
                    second as i8,
                    0,
                )
                .map_err(|_| TimeError::BadTime)?;
                let instant = self
                    .zone
                    .to_ambiguous_timestamp(local)
                    .unambiguous()
                    .map_err(|_| TimeError::NoSuchLocalTime)?;
                Ok(instant.as_microsecond() + parsed.micros)
            }
        }
    }
}

/// Parses a date cell (`2025-07-02`, also `2025/07/02`).
pub fn parse_date(raw: &str) -> Result<Date, TimeError> {
    let bytes = raw.trim().as_bytes();
    let (date, rest) = parse_date_prefix(bytes)?;
    if !rest.is_empty() {
        return Err(TimeError::TrailingText);
    }
    Ok(date)
}

struct Parts {
    date: Date,
    seconds_of_day: i64,
    micros: i64,
    offset_seconds: Option<i32>,
}

fn parse_date_prefix(bytes: &[u8]) -> Result<(Date, &[u8]), TimeError> {
    let (year, rest) = digits(bytes, 4, 4).ok_or(TimeError::BadDate)?;
    let separator = *rest.first().ok_or(TimeError::BadDate)?;
    if separator != b'-' && separator != b'/' {
        return Err(TimeError::BadDate);
    }
    let (month, rest) = digits(&rest[1..], 1, 2).ok_or(TimeError::BadDate)?;
    if rest.first() != Some(&separator) {
        return Err(TimeError::BadDate);
    }
    let (day, rest) = digits(&rest[1..], 1, 2).ok_or(TimeError::BadDate)?;
    let date = Date::new(year as i16, month as i8, day as i8).map_err(|_| TimeError::BadDate)?;
    Ok((date, rest))
}

fn parse_parts(bytes: &[u8]) -> Result<Parts, TimeError> {
    let (date, mut rest) = parse_date_prefix(bytes)?;
    let mut seconds_of_day = 0i64;
    let mut micros = 0i64;
    if let Some((&first, after)) = rest.split_first()
        && (first == b' ' || first == b'T')
        && after.first().is_some_and(u8::is_ascii_digit)
    {
        let (hour, after_hour) = digits(after, 1, 2).ok_or(TimeError::BadTime)?;
        if after_hour.first() != Some(&b':') {
            return Err(TimeError::BadTime);
        }
        let (minute, mut after_minute) =
            digits(&after_hour[1..], 2, 2).ok_or(TimeError::BadTime)?;
        let mut second = 0;
        if after_minute.first() == Some(&b':') {
            let (value, after_second) =
                digits(&after_minute[1..], 2, 2).ok_or(TimeError::BadTime)?;
            second = value;
            after_minute = after_second;
            if after_minute.first() == Some(&b'.') {
                let fraction_len = after_minute[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if fraction_len == 0 {
                    return Err(TimeError::BadTime);
                }
                let fraction = &after_minute[1..1 + fraction_len];
                let mut value = 0i64;
                for (i, digit) in fraction.iter().take(6).enumerate() {
                    value += i64::from(digit - b'0') * 10i64.pow(5 - i as u32);
                }
                micros = value;
                after_minute = &after_minute[1 + fraction_len..];
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err(TimeError::BadTime);
        }
        seconds_of_day = hour * 3600 + minute * 60 + second.min(59);
        rest = after_minute;
    }
    while rest.first() == Some(&b' ') {
        rest = &rest[1..];
    }
    let offset_seconds = match rest.first() {
        None => None,
        Some(b'Z') | Some(b'z') => {
            rest = &rest[1..];
            Some(0)
        }
        Some(&sign) if sign == b'+' || sign == b'-' => {
            let (hours, after) = digits(&rest[1..], 2, 2).ok_or(TimeError::BadOffset)?;
            let after = after.strip_prefix(b":").unwrap_or(after);
            let (minutes, after) = if after.is_empty() {
                (0, after)
            } else {
                digits(after, 2, 2).ok_or(TimeError::BadOffset)?
            };
            if hours > 18 || minutes > 59 {
                return Err(TimeError::BadOffset);
            }
            rest = after;
            let total = (hours * 3600 + minutes * 60) as i32;
            Some(if sign == b'-' { -total } else { total })
        }
        Some(_) => return Err(TimeError::TrailingText),
    };
    if !rest.is_empty() {
        return Err(TimeError::TrailingText);
    }
    Ok(Parts {
        date,
        seconds_of_day,
        micros,
        offset_seconds,
    })
}

/// Reads between `min` and `max` ASCII digits.
fn digits(bytes: &[u8], min: usize, max: usize) -> Option<(i64, &[u8])> {
    let len = bytes
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if len < min {
        return None;
    }
    let value = bytes[..len]
        .iter()
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    Some((value, &bytes[len..]))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(date: Date) -> i64 {
    let (year, month, day) = (
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn epoch_micros(date: Date, seconds_of_day: i64, micros: i64) -> Micros {
    (days_from_civil(date) * 86_400 + seconds_of_day) * MICROS_PER_SECOND + micros
}

/// The UTC day number (days since the epoch) of an instant; storage partitions actions by it.
pub fn utc_day(instant: Micros) -> i64 {
    instant.div_euclid(MICROS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokyo() -> TimeZoneSetting {
        TimeZoneSetting::tokyo()
    }

    #[test]
    fn offsets_in_every_spelling_give_the_same_instant() {
        let zone = tokyo();
        let expected = zone.parse_timestamp("2025-07-02 00:00:00+09").unwrap();
        for text in [
            "2025-07-02 00:00:00+0900",
            "2025-07-02 00:00:00+09:00",
            "2025-07-01 15:00:00Z",
            "2025-07-01T15:00:00+00",
            "2025-07-02 00:00:00",
            "2025-07-02 00:00",
            "2025-07-02",
            "2025/07/02 00:00:00 +09",
        ] {
            assert_eq!(zone.parse_timestamp(text), Ok(expected), "{text}");
        }
        assert_eq!(expected, 1_751_382_000 * MICROS_PER_SECOND);
    }

    #[test]
    fn fractional_seconds_are_kept_to_the_microsecond() {
        let zone = tokyo();
        let whole = zone.parse_timestamp("2025-07-02 13:45:12+09").unwrap();
        assert_eq!(
            zone.parse_timestamp("2025-07-02 13:45:12.5+09"),
            Ok(whole + 500_000)
        );
    }

    #[test]
    fn invalid_timestamps_say_what_is_wrong() {
        let zone = tokyo();
        assert_eq!(zone.parse_timestamp("2025/13/45"), Err(TimeError::BadDate));
        assert_eq!(zone.parse_timestamp("2025-02-30"), Err(TimeError::BadDate));
        assert_eq!(
            zone.parse_timestamp("2025-07-02 25:00"),
            Err(TimeError::BadTime)
        );
        assert_eq!(
            zone.parse_timestamp("2025-07-02 10:00+9"),
            Err(TimeError::BadOffset)
        );
        assert_eq!(
            zone.parse_timestamp("2025-07-02 10:00 JST"),
            Err(TimeError::TrailingText)
        );
        assert_eq!(zone.parse_timestamp("yesterday"), Err(TimeError::BadDate));
    }

    #[test]
    fn formatting_round_trips() {
        let zone = tokyo();
        let instant = zone.parse_timestamp("2025-07-02 13:45:12+09").unwrap();
        assert_eq!(zone.format(instant), "2025-07-02 13:45:12+09");
        assert_eq!(zone.parse_timestamp(&zone.format(instant)), Ok(instant));
    }

    #[test]
    fn day_boundaries_are_local_midnight() {
        let zone = tokyo();
        let date = parse_date("2025-07-02").unwrap();
        assert_eq!(
            zone.start_of_day(date),
            zone.parse_timestamp("2025-07-02 00:00:00+09").unwrap()
        );
        assert_eq!(zone.date_of(zone.start_of_day(date)), date);
    }

    #[test]
    fn civil_day_numbers_match_jiff() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2025-07-02",
            "1969-12-31",
            "2100-03-01",
        ] {
            let date = parse_date(text).unwrap();
            let expected = date
                .to_zoned(TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second()
                / 86_400;
            assert_eq!(days_from_civil(date), expected, "{text}");
        }
    }
}
