//! SendGrid's event webhook: an array of events. `bounce` (its `type` `bounce`, or a
//! status 5.x.x) is a hard bounce; `bounce` of `type` `blocked`, `blocked` and a 4.x.x
//! status are soft; `spamreport` is a complaint; `dropped` for a bounced or invalid
//! address is hard, for a spam-reporting one a complaint. Every other event (`delivered`,
//! `open`, `deferred` …) is ignored.

use serde_json::Value;

use super::{
    BounceEvent, BounceInputError, BounceKind, BounceSource, ParsedEvents, kind_of_status,
    parse_address, reason_text,
};
use crate::domain::bounce::normalize_message_id;
use crate::domain::time::Micros;

const HINT: &str = "set this URL as SendGrid's Event Webhook HTTP POST URL, with the bounce, \
                    dropped, blocked and spam report events";

/// Reads a webhook request's body.
pub fn parse_sendgrid(body: &[u8], received_at: Micros) -> Result<ParsedEvents, BounceInputError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| BounceInputError::new("body", format!("is not JSON ({error})"), HINT))?;
    let Value::Array(items) = value else {
        return Err(BounceInputError::new(
            "$",
            "is not an array of events",
            HINT,
        ));
    };
    let mut parsed = ParsedEvents::default();
    for (index, item) in items.iter().enumerate() {
        let at = format!("$[{index}]");
        let Some(event) = item.as_object() else {
            return Err(BounceInputError::new(at, "is not an event object", HINT));
        };
        let text = |name: &str| event.get(name).and_then(Value::as_str);
        let name = text("event").ok_or_else(|| {
            BounceInputError::new(format!("{at}.event"), "the event has no name", HINT)
        })?;
        let status = text("status").unwrap_or_default();
        let reason = text("reason")
            .or_else(|| text("response"))
            .unwrap_or_default();
        let kind = match name {
            "bounce" => match text("type") {
                Some("blocked") => Some(BounceKind::SoftBounce),
                _ => Some(kind_of_status(status).unwrap_or(BounceKind::HardBounce)),
            },
            "blocked" => Some(BounceKind::SoftBounce),
            "spamreport" => Some(BounceKind::Complaint),
            "dropped" => {
                let lower = reason.to_ascii_lowercase();
                if lower.contains("spam") {
                    Some(BounceKind::Complaint)
                } else if lower.contains("bounce") || lower.contains("invalid") {
                    Some(BounceKind::HardBounce)
                } else {
                    None
                }
            }
            _ => None,
        };
        let Some(kind) = kind else {
            parsed.ignored += 1;
            continue;
        };
        let address = parse_address(
            text("email").ok_or_else(|| {
                BounceInputError::new(format!("{at}.email"), "the event has no email", HINT)
            })?,
            &format!("{at}.email"),
        )?;
        let occurred_at = match event.get("timestamp") {
            None | Some(Value::Null) => received_at,
            Some(value) => value
                .as_i64()
                .and_then(|seconds| seconds.checked_mul(1_000_000))
                .ok_or_else(|| {
                    BounceInputError::new(
                        format!("{at}.timestamp"),
                        format!("{value} is not a Unix time in seconds"),
                        HINT,
                    )
                })?,
        };
        let reason = [name, status, reason]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        parsed.events.push(BounceEvent {
            address,
            kind,
            // `smtp-id` is the email's own Message-ID header; `sg_message_id` is SendGrid's.
            message_id: text("smtp-id").and_then(normalize_message_id),
            reason: reason_text(&reason),
            occurred_at,
            source: BounceSource::Sendgrid,
            source_id: text("sg_event_id").map(str::to_owned),
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounces_blocks_spam_reports_and_drops_are_read_and_the_rest_ignored() {
        let body = br#"[
          {"email":"a@example.com","timestamp":1751414400,"smtp-id":"<2025-07-02.u1@example.jp>",
           "event":"bounce","type":"bounce","status":"5.1.1","reason":"550 5.1.1 no such user",
           "sg_event_id":"ev1","sg_message_id":"sg1.filter"},
          {"email":"b@example.com","timestamp":1751414400,"event":"bounce","type":"blocked",
           "status":"4.0.0","reason":"blocked by policy","sg_event_id":"ev2"},
          {"email":"c@example.com","timestamp":1751414400,"event":"spamreport","sg_event_id":"ev3"},
          {"email":"d@example.com","timestamp":1751414400,"event":"dropped","reason":"Bounced Address","sg_event_id":"ev4"},
          {"email":"e@example.com","timestamp":1751414400,"event":"dropped","reason":"Unsubscribed Address"},
          {"email":"f@example.com","timestamp":1751414400,"event":"delivered"},
          {"email":"g@example.com","timestamp":1751414400,"event":"blocked","status":"4.7.1"}
        ]"#;
        let parsed = parse_sendgrid(body, 0).unwrap();
        let kinds: Vec<(&str, BounceKind)> = parsed
            .events
            .iter()
            .map(|e| (e.address.as_str(), e.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("a@example.com", BounceKind::HardBounce),
                ("b@example.com", BounceKind::SoftBounce),
                ("c@example.com", BounceKind::Complaint),
                ("d@example.com", BounceKind::HardBounce),
                ("g@example.com", BounceKind::SoftBounce),
            ]
        );
        assert_eq!(parsed.ignored, 2);
        let first = &parsed.events[0];
        assert_eq!(
            first.message_id.as_deref(),
            Some("2025-07-02.u1@example.jp")
        );
        assert_eq!(first.occurred_at, 1_751_414_400_000_000);
        assert_eq!(first.source_id.as_deref(), Some("ev1"));
        assert_eq!(first.source, BounceSource::Sendgrid);
    }

    #[test]
    fn a_body_that_is_not_an_event_array_is_named() {
        for (body, at) in [
            (&b"{}"[..], "$"),
            (b"nope", "body"),
            (br#"[{"email":"a@example.com"}]"#, "$[0].event"),
            (br#"[{"event":"bounce"}]"#, "$[0].email"),
            (
                br#"[{"event":"bounce","email":"a@example.com","timestamp":"x"}]"#,
                "$[0].timestamp",
            ),
        ] {
            assert_eq!(parse_sendgrid(body, 0).unwrap_err().at, at);
        }
    }
}
