//! The generic JSON event of `POST /api/bounces`: one object or an array of them, each
//! `{address, kind, message_id?, reason?, occurred_at?, id?}` with `kind` one of
//! `hard-bounce`, `soft-bounce`, `complaint` and `occurred_at` RFC 3339.

use serde_json::{Map, Value};

use super::{BounceEvent, BounceInputError, BounceKind, BounceSource, ParsedEvents, parse_address};
use crate::domain::bounce::normalize_message_id;
use crate::domain::time::Micros;

/// At most this many events in one request.
pub const MAX_EVENTS: usize = 10_000;

const SHAPE_HINT: &str = "send {\"address\": \"user@example.com\", \"kind\": \"hard-bounce\"} or an \
                          array of such objects; kind is hard-bounce, soft-bounce or complaint";

/// Reads the events of `body`; an event without `occurred_at` happened at `received_at`.
/// The first bad field refuses the whole body, naming its place.
pub fn parse_events(body: &Value, received_at: Micros) -> Result<ParsedEvents, BounceInputError> {
    let (items, batch): (Vec<&Value>, bool) = match body {
        Value::Array(items) => (items.iter().collect(), true),
        Value::Object(_) => (vec![body], false),
        _ => {
            return Err(BounceInputError::new(
                "$",
                "the body is neither an event object nor an array of them",
                SHAPE_HINT,
            ));
        }
    };
    if batch && items.is_empty() {
        return Err(BounceInputError::new(
            "$",
            "the array holds no event",
            SHAPE_HINT,
        ));
    }
    if items.len() > MAX_EVENTS {
        return Err(BounceInputError::new(
            "$",
            format!(
                "{} events, more than {MAX_EVENTS} in one request",
                items.len()
            ),
            "send them in several requests",
        ));
    }
    let mut events = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let at = if batch {
            format!("$[{index}]")
        } else {
            "$".to_owned()
        };
        let Value::Object(object) = item else {
            return Err(BounceInputError::new(at, "is not an object", SHAPE_HINT));
        };
        events.push(parse_event(object, &at, received_at)?);
    }
    Ok(ParsedEvents { events, ignored: 0 })
}

fn parse_event(
    object: &Map<String, Value>,
    at: &str,
    received_at: Micros,
) -> Result<BounceEvent, BounceInputError> {
    const KNOWN: [&str; 6] = [
        "address",
        "kind",
        "message_id",
        "reason",
        "occurred_at",
        "id",
    ];
    if let Some(unknown) = object.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return Err(BounceInputError::new(
            format!("{at}.{unknown}"),
            format!("unknown field {unknown:?}"),
            "the fields are address, kind, message_id, reason, occurred_at and id",
        ));
    }
    let text = |name: &str, required: bool| -> Result<Option<&str>, BounceInputError> {
        match object.get(name) {
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(BounceInputError::new(
                format!("{at}.{name}"),
                format!("{name} is missing"),
                SHAPE_HINT,
            )),
            Some(other) => Err(BounceInputError::new(
                format!("{at}.{name}"),
                format!("{name} is {other}, not a string"),
                SHAPE_HINT,
            )),
        }
    };
    let address = parse_address(
        text("address", true)?.unwrap_or_default(),
        &format!("{at}.address"),
    )?;
    let kind_text = text("kind", true)?.unwrap_or_default();
    let kind = BounceKind::parse(kind_text).ok_or_else(|| {
        BounceInputError::new(
            format!("{at}.kind"),
            format!("{kind_text:?} is not a kind"),
            "kind is hard-bounce, soft-bounce or complaint",
        )
    })?;
    let occurred_at = match text("occurred_at", false)? {
        None => received_at,
        Some(raw) => raw
            .parse::<jiff::Timestamp>()
            .map_err(|error| {
                BounceInputError::new(
                    format!("{at}.occurred_at"),
                    format!("{raw:?} is not an RFC 3339 time ({error})"),
                    "write the time as 2025-07-02T06:00:00+09:00",
                )
            })?
            .as_microsecond(),
    };
    let message_id = match text("message_id", false)? {
        None => None,
        Some(raw) => Some(normalize_message_id(raw).ok_or_else(|| {
            BounceInputError::new(
                format!("{at}.message_id"),
                format!("{raw:?} is not a Message-ID"),
                "give the Message-ID header of the email, as in <2025-07-02.u1@example.jp>",
            )
        })?),
    };
    Ok(BounceEvent {
        address,
        kind,
        message_id,
        reason: text("reason", false)?.and_then(super::reason_text),
        occurred_at,
        source: BounceSource::Api,
        source_id: text("id", false)?
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_event_or_a_batch_is_read_with_its_defaults() {
        let one = parse_events(
            &json!({"address": "A@example.com", "kind": "complaint"}),
            42,
        )
        .unwrap();
        assert_eq!(one.events.len(), 1);
        let event = &one.events[0];
        assert_eq!(event.kind, BounceKind::Complaint);
        assert_eq!(event.occurred_at, 42);
        assert_eq!(event.source, BounceSource::Api);
        assert_eq!(event.message_id, None);

        let batch = parse_events(
            &json!([
                {"address": "a@example.com", "kind": "hard-bounce",
                 "message_id": "<2025-07-02.u1@example.jp>", "reason": "550 5.1.1  no such user",
                 "occurred_at": "2025-07-02T06:00:00+09:00", "id": "e1"},
                {"address": "b@example.com", "kind": "soft-bounce"}
            ]),
            0,
        )
        .unwrap();
        let first = &batch.events[0];
        assert_eq!(
            first.message_id.as_deref(),
            Some("2025-07-02.u1@example.jp")
        );
        assert_eq!(first.reason.as_deref(), Some("550 5.1.1 no such user"));
        assert_eq!(first.occurred_at, 1_751_403_600_000_000);
        assert_eq!(first.source_id.as_deref(), Some("e1"));
        assert_eq!(batch.events[1].kind, BounceKind::SoftBounce);
    }

    #[test]
    fn a_bad_field_is_named_with_its_place() {
        let cases = [
            (json!("text"), "$"),
            (json!([]), "$"),
            (
                json!([{"address": "a@example.com", "kind": "hard-bounce"}, 3]),
                "$[1]",
            ),
            (json!({"kind": "complaint"}), "$.address"),
            (
                json!({"address": "nobody", "kind": "complaint"}),
                "$.address",
            ),
            (
                json!({"address": "a@example.com", "kind": "bounce"}),
                "$.kind",
            ),
            (json!({"address": "a@example.com", "kind": 1}), "$.kind"),
            (
                json!({"address": "a@example.com", "kind": "complaint", "occurred_at": "yesterday"}),
                "$.occurred_at",
            ),
            (
                json!([{"address": "a@example.com", "kind": "complaint", "extra": 1}]),
                "$[0].extra",
            ),
        ];
        for (body, at) in cases {
            let error = parse_events(&body, 0).unwrap_err();
            assert_eq!(error.at, at, "{body}: {error}");
            assert!(!error.hint.is_empty());
        }
    }
}
