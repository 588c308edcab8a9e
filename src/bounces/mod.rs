//! The inputs that carry bounces and complaints, each read by a pure parser into
//! [`BounceEvent`]s: the generic JSON event (`json.rs`), Amazon SES notifications through
//! SNS (`ses.rs`), SendGrid's event webhook (`sendgrid.rs`) and RFC 3464 delivery-status
//! notifications (`dsn.rs`, through `mail-parser`).
//!
//! Nothing here does I/O or reads the clock: the instant an input arrived is an argument,
//! used where the input says nothing of when the event happened.

pub mod dsn;
pub mod json;
pub mod sendgrid;
pub mod ses;

use thiserror::Error;

use crate::domain::EmailAddress;
pub use crate::domain::bounce::{BounceEvent, BounceKind, BounceSource};

/// `bounces.soft_limit`: soft bounces within the window that suppress an address (0: never).
pub const DEFAULT_SOFT_LIMIT: u32 = 3;
/// `bounces.soft_window_days`: the window soft bounces are counted in.
pub const DEFAULT_SOFT_WINDOW_DAYS: u32 = 7;
/// `bounces.scan_interval_seconds`: how often `serve` imports the DSN drop folder.
pub const DEFAULT_SCAN_INTERVAL_SECONDS: u64 = 60;

/// The `[bounces]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BounceSettings {
    pub soft_rule: crate::domain::bounce::SoftBounceRule,
    /// How often `serve` imports `DATA_DIR/bounces/`.
    pub scan_interval: std::time::Duration,
}

impl Default for BounceSettings {
    fn default() -> Self {
        Self {
            soft_rule: crate::domain::bounce::SoftBounceRule {
                limit: DEFAULT_SOFT_LIMIT,
                window_days: DEFAULT_SOFT_WINDOW_DAYS,
            },
            scan_interval: std::time::Duration::from_secs(DEFAULT_SCAN_INTERVAL_SECONDS),
        }
    }
}

/// Why an input was refused: what was wrong, where in it, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{at}: {message}")]
pub struct BounceInputError {
    /// Where: a JSON path (`$[2].address`) or a part of a message (`delivery-status part`).
    pub at: String,
    pub message: String,
    pub hint: &'static str,
}

impl BounceInputError {
    pub fn new(at: impl Into<String>, message: impl Into<String>, hint: &'static str) -> Self {
        Self {
            at: at.into(),
            message: message.into(),
            hint,
        }
    }
}

/// What a parser read: the events, and how many entries of the input it left out because
/// they are not bounces or complaints (a SendGrid `delivered`, a DSN's `delivered` recipient).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedEvents {
    pub events: Vec<BounceEvent>,
    pub ignored: u64,
}

/// An address as the mail systems write it: bare, in angle brackets, or after an address
/// type (`rfc822; a@b`).
fn parse_address(raw: &str, at: &str) -> Result<EmailAddress, BounceInputError> {
    let mut text = raw.trim();
    if let Some((kind, rest)) = text.split_once(';')
        && kind.trim().eq_ignore_ascii_case("rfc822")
    {
        text = rest.trim();
    }
    if let (Some(start), Some(end)) = (text.rfind('<'), text.rfind('>'))
        && start < end
    {
        text = &text[start + 1..end];
    }
    EmailAddress::parse(text).map_err(|error| {
        BounceInputError::new(
            at,
            format!("{raw:?} is not an email address ({error})"),
            "give the recipient's address, as in user@example.com",
        )
    })
}

/// Keeps at most this many characters of a remote side's text (a diagnostic may be long).
pub const MAX_REASON_CHARS: usize = 1000;

fn reason_text(text: &str) -> Option<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then(|| text.chars().take(MAX_REASON_CHARS).collect())
}

/// The kind an SMTP enhanced status code (RFC 3463) or reply code means: `5…` hard, `4…`
/// soft; `None` for a success or anything else.
pub fn kind_of_status(status: &str) -> Option<BounceKind> {
    match status.trim().as_bytes().first() {
        Some(b'5') => Some(BounceKind::HardBounce),
        Some(b'4') => Some(BounceKind::SoftBounce),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_bare_bracketed_or_typed() {
        for raw in [
            "a@example.com",
            " <a@example.com> ",
            "rfc822; a@example.com",
            "Taro <a@example.com>",
        ] {
            assert_eq!(parse_address(raw, "x").unwrap().as_str(), "a@example.com");
        }
        let error = parse_address("nobody", "$[0].address").unwrap_err();
        assert_eq!(error.at, "$[0].address");
        assert!(error.message.contains("\"nobody\""));
    }

    #[test]
    fn a_5xx_status_is_hard_a_4xx_soft_and_a_2xx_nothing() {
        assert_eq!(kind_of_status("5.1.1"), Some(BounceKind::HardBounce));
        assert_eq!(kind_of_status("4.2.2"), Some(BounceKind::SoftBounce));
        assert_eq!(kind_of_status("2.0.0"), None);
        assert_eq!(kind_of_status(""), None);
    }
}
