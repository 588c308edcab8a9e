//! Parsing of the cell values every input file shares: "no value", integers, booleans, decimals.

/// True when a cell means "no value": empty after trimming, or the literal `NULL`.
pub fn is_null(raw: &str) -> bool {
    let trimmed = raw.trim();
    trimmed.is_empty() || trimmed == "NULL"
}

/// The trimmed cell, or `None` for "no value".
pub fn non_null(raw: &str) -> Option<&str> {
    if is_null(raw) { None } else { Some(raw.trim()) }
}

/// Why a cell could not be read as the type its column needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("expected an integer")]
    NotAnInteger,
    #[error("expected a number")]
    NotANumber,
    #[error("expected a boolean (1/0, true/false, t/f, yes/no, y/n, on/off)")]
    NotABoolean,
    #[error("out of range ({0})")]
    OutOfRange(&'static str),
    #[error("{0}")]
    Invalid(&'static str),
}

/// Parses an integer cell. Accepts surrounding blanks, a leading `+`, thousands separators
/// (`1,200`) and a fractional part of zeros (`13.0`), as spreadsheets write them.
pub fn parse_int(raw: &str) -> Result<i64, ValueError> {
    let text = raw.trim();
    if let Ok(value) = text.parse::<i64>() {
        return Ok(value);
    }
    let cleaned: String = text.chars().filter(|c| *c != ',' && *c != '_').collect();
    let cleaned = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    let integral = match cleaned.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() && fraction.bytes().all(|b| b == b'0') => {
            whole
        }
        Some(_) => return Err(ValueError::NotAnInteger),
        None => cleaned,
    };
    integral
        .parse::<i64>()
        .map_err(|_| ValueError::NotAnInteger)
}

/// Parses an integer cell that must fit `T` (codes, amounts).
pub fn parse_int_in<T: TryFrom<i64>>(raw: &str, what: &'static str) -> Result<T, ValueError> {
    let value = parse_int(raw)?;
    T::try_from(value).map_err(|_| ValueError::OutOfRange(what))
}

/// Parses a decimal cell (coordinates, distances, CPC).
pub fn parse_f64(raw: &str) -> Result<f64, ValueError> {
    let text = raw.trim();
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(ValueError::NotANumber),
    }
}

/// Parses a boolean cell: 1/0, true/false, t/f, yes/no, y/n, on/off in any case.
pub fn parse_bool(raw: &str) -> Result<bool, ValueError> {
    let text = raw.trim();
    const TRUE: [&str; 6] = ["1", "true", "t", "yes", "y", "on"];
    const FALSE: [&str; 6] = ["0", "false", "f", "no", "n", "off"];
    if TRUE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Ok(true)
    } else if FALSE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Ok(false)
    } else {
        Err(ValueError::NotABoolean)
    }
}

/// Parses a list of integer codes separated by commas (`100,103,104`); blanks are ignored.
pub fn parse_code_list(raw: &str) -> Result<Vec<u32>, ValueError> {
    let mut codes = Vec::new();
    for part in raw.split([',', '、', ' ', '|', ';']) {
        if is_null(part) {
            continue;
        }
        codes.push(parse_int_in::<u32>(part, "code")?);
    }
    Ok(codes)
}

/// Parses a count written with thousands separators (`1,600`); anything else is zero.
pub fn parse_volume(raw: &str) -> u64 {
    parse_int(raw)
        .ok()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_blank_mean_no_value() {
        assert!(is_null(""));
        assert!(is_null("  "));
        assert!(is_null("NULL"));
        assert!(!is_null("null value"));
        assert_eq!(non_null(" 13 "), Some("13"));
    }

    #[test]
    fn integers_accept_spreadsheet_forms() {
        assert_eq!(parse_int("13"), Ok(13));
        assert_eq!(parse_int(" +13 "), Ok(13));
        assert_eq!(parse_int("1,200"), Ok(1200));
        assert_eq!(parse_int("13.0"), Ok(13));
        assert_eq!(parse_int("13.5"), Err(ValueError::NotAnInteger));
        assert_eq!(parse_int("無料"), Err(ValueError::NotAnInteger));
        assert_eq!(parse_int("-4"), Ok(-4));
    }

    #[test]
    fn booleans_accept_every_documented_spelling() {
        for word in ["1", "TRUE", "t", "Yes", "y", "ON"] {
            assert_eq!(parse_bool(word), Ok(true), "{word}");
        }
        for word in ["0", "false", "F", "no", "N", "off"] {
            assert_eq!(parse_bool(word), Ok(false), "{word}");
        }
        assert_eq!(parse_bool("maybe"), Err(ValueError::NotABoolean));
    }

    #[test]
    fn code_lists_split_on_commas_and_skip_blanks() {
        assert_eq!(parse_code_list("100,103, 104,"), Ok(vec![100, 103, 104]));
        assert_eq!(parse_code_list(""), Ok(vec![]));
        assert!(parse_code_list("100,abc").is_err());
    }

    #[test]
    fn volume_with_separators_or_junk() {
        assert_eq!(parse_volume("246,000"), 246_000);
        assert_eq!(parse_volume("n/a"), 0);
    }
}
