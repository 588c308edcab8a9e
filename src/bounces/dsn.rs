//! RFC 3464 delivery-status notifications: a `multipart/report; report-type=delivery-status`
//! message, read with `mail-parser`. Its `message/delivery-status` part holds one block of
//! per-message fields and one block per recipient (`Final-Recipient`, `Action`, `Status`,
//! `Diagnostic-Code`); the returned message or its headers (`message/rfc822`,
//! `text/rfc822-headers`) name the `Message-ID` of the email that bounced.
//!
//! A recipient whose `Action` is `failed` or `delayed` is an event: `Status` 5.x.x hard,
//! 4.x.x soft; `delivered`, `relayed` and `expanded` recipients are ignored.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::{
    BounceEvent, BounceInputError, BounceSource, ParsedEvents, kind_of_status, parse_address,
    reason_text,
};
use crate::domain::bounce::normalize_message_id;
use crate::domain::time::Micros;

const HINT: &str = "give the bounce exactly as the mail server delivered it: a multipart/report \
                    message with a message/delivery-status part (RFC 3464)";

/// Reads one DSN message (the bytes of an `.eml` file); an event happened when the report
/// says it was written (`Date`), else at `received_at`.
pub fn parse_dsn(raw: &[u8], received_at: Micros) -> Result<ParsedEvents, BounceInputError> {
    let message = MessageParser::new().parse(raw).ok_or_else(|| {
        BounceInputError::new("message", "is not an email message (no header found)", HINT)
    })?;
    let content_type = message.content_type().ok_or_else(|| {
        BounceInputError::new("Content-Type", "the message has no Content-Type", HINT)
    })?;
    let is_report = content_type.ctype().eq_ignore_ascii_case("multipart")
        && content_type
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"));
    if !is_report {
        return Err(BounceInputError::new(
            "Content-Type",
            format!(
                "is {}/{}, not multipart/report",
                content_type.ctype(),
                content_type.subtype().unwrap_or("")
            ),
            HINT,
        ));
    }
    let report_type = content_type.attribute("report-type").unwrap_or("");
    if !report_type.eq_ignore_ascii_case("delivery-status") {
        return Err(BounceInputError::new(
            "Content-Type",
            format!("report-type is {report_type:?}, not delivery-status"),
            "only delivery-status reports are bounces; feedback (ARF) reports go to the provider's complaint webhook",
        ));
    }
    let mut status_text = None;
    let mut original_id = None;
    for part in message.parts.iter().skip(1) {
        let Some(part_type) = part.content_type() else {
            continue;
        };
        let ctype = part_type.ctype().to_ascii_lowercase();
        let subtype = part_type.subtype().unwrap_or("").to_ascii_lowercase();
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") if status_text.is_none() => {
                status_text = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(returned) = &part.body {
                    original_id = original_id.or(returned.message_id().map(str::to_owned));
                }
            }
            ("text", "rfc822-headers") => {
                let headers = part.contents();
                if let Some(returned) = MessageParser::new().parse_headers(headers) {
                    original_id = original_id.or(returned.message_id().map(str::to_owned));
                }
            }
            _ => {}
        }
    }
    let status_text = status_text.ok_or_else(|| {
        BounceInputError::new(
            "delivery-status part",
            "the report has no message/delivery-status part",
            HINT,
        )
    })?;
    let occurred_at = message
        .date()
        .map_or(received_at, |date| date.to_timestamp() * 1_000_000);
    let report_id = message.message_id().map(str::to_owned);
    let message_id = original_id.as_deref().and_then(normalize_message_id);

    let normalized = status_text.replace("\r\n", "\n");
    let mut blocks = normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|block| !block.is_empty());
    // The first block is about the message; the recipients follow.
    blocks
        .next()
        .ok_or_else(|| BounceInputError::new("delivery-status part", "the part is empty", HINT))?;
    let mut parsed = ParsedEvents::default();
    for (index, block) in blocks.enumerate() {
        let at = format!("delivery-status part, recipient {}", index + 1);
        let fields = read_fields(block);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        let recipient = field("Final-Recipient")
            .or_else(|| field("Original-Recipient"))
            .ok_or_else(|| {
                BounceInputError::new(&at, "the recipient block has no Final-Recipient", HINT)
            })?;
        let address = parse_address(recipient, &format!("{at}, Final-Recipient"))?;
        let action = field("Action").unwrap_or("failed").to_ascii_lowercase();
        if !matches!(action.as_str(), "failed" | "delayed") {
            parsed.ignored += 1;
            continue;
        }
        let status = field("Status")
            .ok_or_else(|| BounceInputError::new(&at, "the recipient block has no Status", HINT))?;
        let Some(kind) = kind_of_status(status) else {
            return Err(BounceInputError::new(
                format!("{at}, Status"),
                format!("{status:?} is not a 4.x.x or 5.x.x status for a {action} recipient"),
                HINT,
            ));
        };
        let reason = format!("{status} {}", field("Diagnostic-Code").unwrap_or(""));
        parsed.events.push(BounceEvent {
            source_id: report_id
                .as_ref()
                .map(|id| format!("{id}/{}", address.as_str())),
            address,
            kind,
            message_id: message_id.clone(),
            reason: reason_text(&reason),
            occurred_at,
            source: BounceSource::Dsn,
        });
    }
    if parsed.events.is_empty() && parsed.ignored == 0 {
        return Err(BounceInputError::new(
            "delivery-status part",
            "the report names no recipient",
            HINT,
        ));
    }
    Ok(parsed)
}

/// The fields of one block, unfolded, through `mail-parser`'s header reader.
fn read_fields(block: &str) -> Vec<(String, String)> {
    let text = format!("{block}\n\n");
    let Some(parsed): Option<Message<'_>> = MessageParser::new().parse_headers(text.as_bytes())
    else {
        return Vec::new();
    };
    let raw = text.as_bytes();
    parsed.parts[0]
        .headers
        .iter()
        .map(|header| {
            let value = raw
                .get(header.offset_start as usize..header.offset_end as usize)
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            (
                header.name.as_str().to_owned(),
                value.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::BounceKind;

    const TEMPLATE: &str = include_str!("../../tests/fixtures/bounces/postfix-dsn.eml.template");

    fn postfix_dsn(address: &str, message_id: &str) -> String {
        TEMPLATE
            .replace("{address}", address)
            .replace("{message_id}", message_id)
    }

    #[test]
    fn postfix_s_bounce_is_a_hard_bounce_of_the_returned_message() {
        let dsn = postfix_dsn("taro@example.com", "2025-07-02.u1@example.jp");
        let parsed = parse_dsn(dsn.as_bytes(), 0).unwrap();
        assert_eq!(parsed.events.len(), 1);
        let event = &parsed.events[0];
        assert_eq!(event.address.as_str(), "taro@example.com");
        assert_eq!(event.kind, BounceKind::HardBounce);
        assert_eq!(event.source, BounceSource::Dsn);
        assert_eq!(
            event.message_id.as_deref(),
            Some("2025-07-02.u1@example.jp")
        );
        // Wed, 2 Jul 2025 06:00:12 +0900.
        assert_eq!(event.occurred_at, 1_751_403_612_000_000);
        let reason = event.reason.as_deref().unwrap();
        assert!(
            reason.starts_with("5.1.1 smtp; 550 5.1.1")
                && reason.contains("User unknown in virtual mailbox table"),
            "{reason}"
        );
        assert_eq!(
            event.source_id.as_deref(),
            Some("20250701210012.4bXk2Q0n3Jz9vQ@mail.example.jp/taro@example.com")
        );
    }

    #[test]
    fn a_delayed_4xx_recipient_is_soft_and_a_delivered_one_ignored() {
        let dsn = postfix_dsn("taro@example.com", "x@example.jp");
        let delayed = dsn.replace(
            "Action: failed\nStatus: 5.1.1",
            "Action: delayed\nStatus: 4.2.2",
        );
        let parsed = parse_dsn(delayed.as_bytes(), 0).unwrap();
        assert_eq!(parsed.events[0].kind, BounceKind::SoftBounce);
        let delivered = dsn.replace(
            "Action: failed\nStatus: 5.1.1",
            "Action: delivered\nStatus: 2.0.0",
        );
        let parsed = parse_dsn(delivered.as_bytes(), 0).unwrap();
        assert_eq!((parsed.events.len(), parsed.ignored), (0, 1));
    }

    #[test]
    fn a_message_that_is_not_a_delivery_status_report_is_refused_with_the_reason() {
        let dsn = postfix_dsn("taro@example.com", "x@example.jp");
        let cases = [
            ("Subject: hi\n\nhello\n".to_owned(), "Content-Type"),
            (
                dsn.replace("report-type=delivery-status", "report-type=feedback-report"),
                "Content-Type",
            ),
            (
                dsn.replace(
                    "Content-Type: message/delivery-status",
                    "Content-Type: text/plain",
                ),
                "delivery-status part",
            ),
            (
                dsn.replace("Status: 5.1.1", "Status: 2.0.0"),
                "delivery-status part, recipient 1, Status",
            ),
            (
                dsn.replace(
                    "Final-Recipient: rfc822; taro@example.com",
                    "Final-Recipient: rfc822; nobody",
                ),
                "delivery-status part, recipient 1, Final-Recipient",
            ),
            (String::new(), "message"),
        ];
        for (text, at) in cases {
            let error = parse_dsn(text.as_bytes(), 0).unwrap_err();
            assert_eq!(error.at, at, "{error}");
        }
    }
}
