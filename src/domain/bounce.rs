//! What comes back from the mail system: bounces and complaints, one [`BounceEvent`] each
//! whatever carried it, and the rule that turns them into suppressions.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::ids::{EmailAddress, UserId};
use super::time::Micros;
use super::user::SuppressionReason;

/// What an event says about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BounceKind {
    /// The mailbox does not exist or refuses for good (SMTP 5.x.x, SES `Permanent`).
    HardBounce,
    /// A temporary failure (SMTP 4.x.x, a full mailbox, SES `Transient`).
    SoftBounce,
    /// The recipient marked the email as spam.
    Complaint,
}

impl BounceKind {
    pub const ALL: [Self; 3] = [Self::HardBounce, Self::SoftBounce, Self::Complaint];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HardBounce => "hard-bounce",
            Self::SoftBounce => "soft-bounce",
            Self::Complaint => "complaint",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// Which input an event came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceSource {
    /// `POST /api/bounces`, the generic JSON event.
    Api,
    /// Amazon SES through SNS.
    Ses,
    /// SendGrid's event webhook.
    Sendgrid,
    /// An RFC 3464 delivery-status notification, posted or dropped as a file.
    Dsn,
}

impl BounceSource {
    pub const ALL: [Self; 4] = [Self::Api, Self::Ses, Self::Sendgrid, Self::Dsn];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Ses => "ses",
            Self::Sendgrid => "sendgrid",
            Self::Dsn => "dsn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// The queued email an event answers: its (user, date), read from the `Message-ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRef {
    pub user_id: UserId,
    pub date: Date,
}

/// One bounce or complaint as an input parser reads it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceEvent {
    pub address: EmailAddress,
    pub kind: BounceKind,
    /// The `Message-ID` of the email it answers, without angle brackets, when the input
    /// names it.
    pub message_id: Option<String>,
    /// What the remote side said (an SMTP reply, a diagnostic code, a feedback type).
    pub reason: Option<String>,
    pub occurred_at: Micros,
    pub source: BounceSource,
    /// The input's own id of the event (SES's `feedbackId`, SendGrid's `sg_event_id`, a
    /// DSN's `Message-ID`, a client's `id`): the same id from the same source is stored
    /// once, so a webhook delivered twice counts once.
    pub source_id: Option<String>,
}

/// A stored event: the input's event with what the store added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBounce {
    pub id: u64,
    pub event: BounceEvent,
    /// The email it answers, when its message id names a stored email.
    pub email: Option<EmailRef>,
    pub received_at: Micros,
    /// The suppression this event caused, if any (an address already suppressed is not
    /// suppressed again).
    pub suppressed: Option<SuppressionReason>,
}

/// When soft bounces suppress: `limit` of them within `window_days` (SPEC §5: soft bounces
/// are counted and suppress after a configured count in a window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftBounceRule {
    pub limit: u32,
    pub window_days: u32,
}

impl SoftBounceRule {
    /// The start of the window that ends at `at`.
    pub fn window_start(&self, at: Micros) -> Micros {
        at.saturating_sub(i64::from(self.window_days) * 86_400_000_000)
    }
}

/// What an event does to its address: a hard bounce or a complaint suppresses at once; a
/// soft bounce only when it is the `limit`th within the window (`soft_in_window` counts
/// the address's soft bounces in the window, this one included).
pub fn suppression_for(
    kind: BounceKind,
    soft_in_window: u32,
    rule: SoftBounceRule,
) -> Option<SuppressionReason> {
    match kind {
        BounceKind::HardBounce => Some(SuppressionReason::HardBounce),
        BounceKind::Complaint => Some(SuppressionReason::Complained),
        BounceKind::SoftBounce if rule.limit > 0 && soft_in_window >= rule.limit => {
            Some(SuppressionReason::SoftBounces)
        }
        BounceKind::SoftBounce => None,
    }
}

/// The `Message-ID` without angle brackets and surrounding space.
pub fn normalize_message_id(raw: &str) -> Option<String> {
    let text = raw.trim();
    let text = text.strip_prefix('<').unwrap_or(text);
    let text = text.strip_suffix('>').unwrap_or(text).trim();
    (!text.is_empty() && !text.contains(char::is_whitespace)).then(|| text.to_owned())
}

/// The (user, date) of a `Message-ID` mailscore wrote: `<YYYY-MM-DD.USER_ID@domain>`
/// (`service::emails::Messages::stored_message`); `None` for anybody else's.
pub fn email_of_message_id(message_id: &str) -> Option<EmailRef> {
    let id = normalize_message_id(message_id)?;
    let (local, _domain) = id.rsplit_once('@')?;
    let (date, user) = local.split_once('.')?;
    if date.len() != 10 {
        return None;
    }
    let date: Date = date.parse().ok()?;
    let user_id = UserId::parse(user).ok()?;
    Some(EmailRef { user_id, date })
}

/// The `Message-ID` local part of a user's email of a date, the inverse of
/// [`email_of_message_id`].
pub fn message_id_local_part(date: Date, user_id: &UserId) -> String {
    format!("{date}.{}", user_id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: SoftBounceRule = SoftBounceRule {
        limit: 3,
        window_days: 7,
    };

    #[test]
    fn a_hard_bounce_or_a_complaint_suppresses_at_once_and_a_soft_bounce_at_the_limit() {
        let cases = [
            (
                BounceKind::HardBounce,
                0,
                Some(SuppressionReason::HardBounce),
            ),
            (
                BounceKind::Complaint,
                0,
                Some(SuppressionReason::Complained),
            ),
            (BounceKind::SoftBounce, 1, None),
            (BounceKind::SoftBounce, 2, None),
            (
                BounceKind::SoftBounce,
                3,
                Some(SuppressionReason::SoftBounces),
            ),
            (
                BounceKind::SoftBounce,
                9,
                Some(SuppressionReason::SoftBounces),
            ),
        ];
        for (kind, count, expected) in cases {
            assert_eq!(
                suppression_for(kind, count, RULE),
                expected,
                "{kind:?} {count}"
            );
        }
        let never = SoftBounceRule {
            limit: 0,
            window_days: 7,
        };
        assert_eq!(suppression_for(BounceKind::SoftBounce, 100, never), None);
    }

    #[test]
    fn mailscore_s_message_ids_name_their_user_and_date() {
        let user = UserId::parse("u.1-2").unwrap();
        let date: Date = "2025-07-02".parse().unwrap();
        let id = format!("<{}@example.jp>", message_id_local_part(date, &user));
        assert_eq!(
            email_of_message_id(&id),
            Some(EmailRef {
                user_id: user,
                date
            })
        );
        assert_eq!(email_of_message_id("<abc@example.com>"), None);
        assert_eq!(email_of_message_id("<2025-13-02.u1@example.com>"), None);
        assert_eq!(email_of_message_id("2025-07-02.u1"), None);
        assert_eq!(normalize_message_id("  <a@b> "), Some("a@b".to_owned()));
        assert_eq!(normalize_message_id("<>"), None);
    }

    #[test]
    fn kinds_and_sources_read_back_their_names() {
        for kind in BounceKind::ALL {
            assert_eq!(BounceKind::parse(kind.as_str()), Some(kind));
        }
        for source in BounceSource::ALL {
            assert_eq!(BounceSource::parse(source.as_str()), Some(source));
        }
        assert_eq!(BounceKind::parse("bounce"), None);
    }
}
