//! The complete RFC 5322 message of an email: headers (including RFC 8058 one-click
//! unsubscribe) and a multipart/alternative body with the text and HTML parts.

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use super::{EmailSettings, RenderedEmail};

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("invalid address {address:?}: {message}")]
    Address { address: String, message: String },
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// Builds the message of `email` for `to`; `message_id` makes it unique per (user, date).
/// The `Date` header is `date` and the MIME boundary derives from `message_id`, so the
/// same email always gives the same bytes.
pub fn build_message(
    email: &RenderedEmail,
    to: &str,
    settings: &EmailSettings,
    message_id: &str,
    date: std::time::SystemTime,
) -> Result<Message, MessageError> {
    let mailbox = |name: Option<&str>, address: &str| -> Result<Mailbox, MessageError> {
        let parsed = address
            .parse()
            .map_err(|e: lettre::address::AddressError| MessageError::Address {
                address: address.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Mailbox::new(name.map(str::to_owned), parsed))
    };
    let from = mailbox(Some(&settings.sender_name), &settings.sender_email)?;
    let to = mailbox(None, to)?;
    let unsubscribe_mailto = format!("mailto:{}?subject=unsubscribe", settings.sender_email);
    let mut builder = Message::builder()
        .date(date)
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(format!(
            "<{message_id}@{}>",
            settings
                .sender_email
                .rsplit('@')
                .next()
                .unwrap_or("localhost")
        )));
    builder = builder.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Unsubscribe"),
        format!("<{}>, <{unsubscribe_mailto}>", email.unsubscribe_url),
    ));
    builder = builder.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click".to_owned(),
    ));
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in message_id.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let body = MultiPart::alternative()
        .boundary(format!("mailscore-{hash:016x}"))
        .singlepart(lettre::message::SinglePart::plain(email.text.clone()))
        .singlepart(lettre::message::SinglePart::html(email.html.clone()));
    builder
        .multipart(body)
        .map_err(|e| MessageError::Build(e.to_string()))
}
