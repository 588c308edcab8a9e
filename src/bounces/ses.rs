//! Amazon SES bounce and complaint notifications, delivered through SNS: the SNS envelope
//! (`Type: Notification` with the SES JSON as a string in `Message`, or a
//! `SubscriptionConfirmation` with its `SubscribeURL`).
//!
//! `bounceType` `Permanent` is a hard bounce, `Transient` and `Undetermined` soft; a
//! `Complaint` is a complaint; `Delivery` and other notifications are ignored. One event
//! per recipient; the Message-ID of the email is the one SES saw in its headers.

use serde_json::Value;

use super::{
    BounceEvent, BounceInputError, BounceKind, BounceSource, ParsedEvents, kind_of_status,
    parse_address, reason_text,
};
use crate::domain::bounce::normalize_message_id;
use crate::domain::time::Micros;

const ENVELOPE_HINT: &str = "point an SNS subscription (HTTP/S, raw message delivery off) of the \
                             SES notification topic at this endpoint";

/// What one SNS request asks of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsMessage {
    /// SNS asks to confirm the subscription: an operator opens `subscribe_url` (this
    /// machine cannot reach SNS).
    SubscriptionConfirmation {
        topic_arn: String,
        subscribe_url: String,
    },
    /// The subscription was removed.
    UnsubscribeConfirmation {
        topic_arn: String,
    },
    Notification(ParsedEvents),
}

/// Reads an SNS request's body.
pub fn parse_sns(body: &[u8], received_at: Micros) -> Result<SnsMessage, BounceInputError> {
    let envelope: Value = serde_json::from_slice(body).map_err(|error| {
        BounceInputError::new("body", format!("is not JSON ({error})"), ENVELOPE_HINT)
    })?;
    let field = |name: &str| envelope.get(name).and_then(Value::as_str);
    let kind = field("Type").ok_or_else(|| {
        BounceInputError::new("$.Type", "the SNS envelope has no Type", ENVELOPE_HINT)
    })?;
    let topic_arn = field("TopicArn").unwrap_or_default().to_owned();
    match kind {
        "SubscriptionConfirmation" => Ok(SnsMessage::SubscriptionConfirmation {
            topic_arn,
            subscribe_url: field("SubscribeURL")
                .ok_or_else(|| {
                    BounceInputError::new(
                        "$.SubscribeURL",
                        "a SubscriptionConfirmation without a SubscribeURL",
                        ENVELOPE_HINT,
                    )
                })?
                .to_owned(),
        }),
        "UnsubscribeConfirmation" => Ok(SnsMessage::UnsubscribeConfirmation { topic_arn }),
        "Notification" => {
            let message = field("Message").ok_or_else(|| {
                BounceInputError::new(
                    "$.Message",
                    "a Notification without a Message string",
                    ENVELOPE_HINT,
                )
            })?;
            let message: Value = serde_json::from_str(message).map_err(|error| {
                BounceInputError::new(
                    "$.Message",
                    format!("is not JSON ({error})"),
                    "turn raw message delivery off, and publish SES notifications as JSON",
                )
            })?;
            parse_ses(&message, received_at).map(SnsMessage::Notification)
        }
        other => Err(BounceInputError::new(
            "$.Type",
            format!("{other:?} is not an SNS message type"),
            ENVELOPE_HINT,
        )),
    }
}

/// Reads an SES notification (`notificationType`, or `eventType` of an event
/// destination).
pub fn parse_ses(message: &Value, received_at: Micros) -> Result<ParsedEvents, BounceInputError> {
    let kind = message
        .get("notificationType")
        .or_else(|| message.get("eventType"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            BounceInputError::new(
                "$.Message.notificationType",
                "the SES message has no notificationType",
                "publish SES bounce and complaint notifications to the topic",
            )
        })?;
    let message_id = ses_message_id(message);
    match kind {
        "Bounce" => {
            let bounce = object(message, "bounce", "$.Message.bounce")?;
            let bounce_type = bounce
                .get("bounceType")
                .and_then(Value::as_str)
                .unwrap_or("Undetermined");
            let sub_type = bounce.get("bounceSubType").and_then(Value::as_str);
            let feedback_id = bounce.get("feedbackId").and_then(Value::as_str);
            let occurred_at = timestamp(bounce, received_at, "$.Message.bounce.timestamp")?;
            let recipients = recipients(bounce, "bouncedRecipients", "$.Message.bounce")?;
            let mut events = Vec::with_capacity(recipients.len());
            for (index, recipient) in recipients.iter().enumerate() {
                let at = format!("$.Message.bounce.bouncedRecipients[{index}]");
                let address = recipient_address(recipient, &at)?;
                let status = recipient.get("status").and_then(Value::as_str);
                let kind = match bounce_type {
                    "Permanent" => BounceKind::HardBounce,
                    // A transient bounce whose recipient's status says 5.x.x is still
                    // what SES calls it: temporary, retried by SES.
                    "Transient" => BounceKind::SoftBounce,
                    _ => status
                        .and_then(kind_of_status)
                        .unwrap_or(BounceKind::SoftBounce),
                };
                let diagnostic = recipient.get("diagnosticCode").and_then(Value::as_str);
                let reason = [Some(bounce_type), sub_type, status, diagnostic]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                events.push(BounceEvent {
                    source_id: feedback_id.map(|id| format!("{id}/{}", address.as_str())),
                    address,
                    kind,
                    message_id: message_id.clone(),
                    reason: reason_text(&reason),
                    occurred_at,
                    source: BounceSource::Ses,
                });
            }
            Ok(ParsedEvents { events, ignored: 0 })
        }
        "Complaint" => {
            let complaint = object(message, "complaint", "$.Message.complaint")?;
            let feedback_id = complaint.get("feedbackId").and_then(Value::as_str);
            let feedback_type = complaint
                .get("complaintFeedbackType")
                .and_then(Value::as_str)
                .unwrap_or("complaint");
            let occurred_at = timestamp(complaint, received_at, "$.Message.complaint.timestamp")?;
            let recipients = recipients(complaint, "complainedRecipients", "$.Message.complaint")?;
            let mut events = Vec::with_capacity(recipients.len());
            for (index, recipient) in recipients.iter().enumerate() {
                let at = format!("$.Message.complaint.complainedRecipients[{index}]");
                let address = recipient_address(recipient, &at)?;
                events.push(BounceEvent {
                    source_id: feedback_id.map(|id| format!("{id}/{}", address.as_str())),
                    address,
                    kind: BounceKind::Complaint,
                    message_id: message_id.clone(),
                    reason: reason_text(feedback_type),
                    occurred_at,
                    source: BounceSource::Ses,
                });
            }
            Ok(ParsedEvents { events, ignored: 0 })
        }
        _ => Ok(ParsedEvents {
            events: Vec::new(),
            ignored: 1,
        }),
    }
}

/// The email's own `Message-ID` header as SES saw it (`mail.commonHeaders.messageId`, else
/// `mail.headers`); SES's `mail.messageId` is SES's id, not the header.
fn ses_message_id(message: &Value) -> Option<String> {
    let mail = message.get("mail")?;
    if let Some(id) = mail
        .pointer("/commonHeaders/messageId")
        .and_then(Value::as_str)
    {
        return normalize_message_id(id);
    }
    mail.get("headers")?
        .as_array()?
        .iter()
        .find(|header| {
            header
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| name.eq_ignore_ascii_case("message-id"))
        })
        .and_then(|header| header.get("value")?.as_str())
        .and_then(normalize_message_id)
}

fn object<'a>(
    message: &'a Value,
    name: &str,
    at: &str,
) -> Result<&'a serde_json::Map<String, Value>, BounceInputError> {
    message.get(name).and_then(Value::as_object).ok_or_else(|| {
        BounceInputError::new(
            at,
            format!("the notification has no {name} object"),
            "publish SES notifications unchanged to the topic",
        )
    })
}

fn recipients<'a>(
    object: &'a serde_json::Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<&'a Vec<Value>, BounceInputError> {
    object.get(name).and_then(Value::as_array).ok_or_else(|| {
        BounceInputError::new(
            format!("{at}.{name}"),
            format!("{name} is missing or not an array"),
            "publish SES notifications unchanged to the topic",
        )
    })
}

fn recipient_address(
    recipient: &Value,
    at: &str,
) -> Result<crate::domain::EmailAddress, BounceInputError> {
    let raw = recipient
        .get("emailAddress")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            BounceInputError::new(
                format!("{at}.emailAddress"),
                "the recipient has no emailAddress",
                "publish SES notifications unchanged to the topic",
            )
        })?;
    parse_address(raw, &format!("{at}.emailAddress"))
}

fn timestamp(
    object: &serde_json::Map<String, Value>,
    received_at: Micros,
    at: &str,
) -> Result<Micros, BounceInputError> {
    match object.get("timestamp").and_then(Value::as_str) {
        None => Ok(received_at),
        Some(raw) => raw
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .map_err(|error| {
                BounceInputError::new(
                    at,
                    format!("{raw:?} is not an ISO 8601 time ({error})"),
                    "publish SES notifications unchanged to the topic",
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An SNS envelope as SNS posts it, around `message`.
    pub fn envelope(message: &Value) -> Vec<u8> {
        json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:ses-bounces",
            "Message": message.to_string(),
            "Timestamp": "2025-07-02T00:01:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.ap-northeast-1.amazonaws.com/cert.pem",
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_permanent_bounce_is_hard_a_transient_soft_and_a_complaint_a_complaint() {
        let bounce = |bounce_type: &str| {
            json!({
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": bounce_type, "bounceSubType": "General",
                    "bouncedRecipients": [{"emailAddress": "taro@example.com", "action": "failed",
                                           "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                    "timestamp": "2025-07-02T00:00:30.000Z", "feedbackId": "0100-abc"
                },
                "mail": {"messageId": "0100-ses-id", "commonHeaders": {"messageId": "<2025-07-02.u7@example.jp>"}}
            })
        };
        let SnsMessage::Notification(parsed) =
            parse_sns(&envelope(&bounce("Permanent")), 0).unwrap()
        else {
            panic!("a notification")
        };
        let event = &parsed.events[0];
        assert_eq!(event.kind, BounceKind::HardBounce);
        assert_eq!(event.address.as_str(), "taro@example.com");
        assert_eq!(
            event.message_id.as_deref(),
            Some("2025-07-02.u7@example.jp")
        );
        assert_eq!(
            event.source_id.as_deref(),
            Some("0100-abc/taro@example.com")
        );
        assert_eq!(event.occurred_at, 1_751_414_430_000_000);
        assert!(event.reason.as_deref().unwrap().contains("5.1.1"));
        let SnsMessage::Notification(soft) = parse_sns(&envelope(&bounce("Transient")), 0).unwrap()
        else {
            panic!("a notification")
        };
        assert_eq!(soft.events[0].kind, BounceKind::SoftBounce);

        let complaint = json!({
            "notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": "hanako@example.com"}],
                          "timestamp": "2025-07-02T01:00:00Z", "feedbackId": "0100-def",
                          "complaintFeedbackType": "abuse"},
            "mail": {"headers": [{"name": "Message-ID", "value": "<2025-07-02.u8@example.jp>"}]}
        });
        let SnsMessage::Notification(parsed) = parse_sns(&envelope(&complaint), 0).unwrap() else {
            panic!("a notification")
        };
        assert_eq!(parsed.events[0].kind, BounceKind::Complaint);
        assert_eq!(
            parsed.events[0].message_id.as_deref(),
            Some("2025-07-02.u8@example.jp")
        );
        let delivery = json!({"notificationType": "Delivery", "delivery": {}});
        let SnsMessage::Notification(parsed) = parse_sns(&envelope(&delivery), 0).unwrap() else {
            panic!("a notification")
        };
        assert_eq!((parsed.events.len(), parsed.ignored), (0, 1));
    }

    #[test]
    fn a_subscription_confirmation_gives_its_url_and_nothing_is_fetched() {
        let body = json!({
            "Type": "SubscriptionConfirmation", "TopicArn": "arn:aws:sns:x:1:t",
            "SubscribeURL": "https://sns.example/confirm?token=1", "Token": "1"
        })
        .to_string();
        assert_eq!(
            parse_sns(body.as_bytes(), 0).unwrap(),
            SnsMessage::SubscriptionConfirmation {
                topic_arn: "arn:aws:sns:x:1:t".into(),
                subscribe_url: "https://sns.example/confirm?token=1".into()
            }
        );
    }

    #[test]
    fn a_malformed_envelope_or_message_is_named() {
        let cases: [(Vec<u8>, &str); 5] = [
            (b"{".to_vec(), "body"),
            (b"{}".to_vec(), "$.Type"),
            (
                br#"{"Type":"Notification","Message":"not json"}"#.to_vec(),
                "$.Message",
            ),
            (
                envelope(&json!({"notificationType": "Bounce"})),
                "$.Message.bounce",
            ),
            (
                envelope(
                    &json!({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
                    "bouncedRecipients": [{"emailAddress": "nobody"}]}}),
                ),
                "$.Message.bounce.bouncedRecipients[0].emailAddress",
            ),
        ];
        for (body, at) in cases {
            assert_eq!(parse_sns(&body, 0).unwrap_err().at, at);
        }
    }
}
