//! The queued emails as complete messages: one user's (preview), every one of a date
//! (export with an index), and the stored message itself, rendered the way the sender
//! renders it.

use std::io::Write;

use jiff::civil::Date;

use super::ServiceError;
use super::explain::{Missing, explain_no_day, explain_no_picks};
use crate::config::Settings;
use crate::domain::batch::{EmailStatus, QueuedEmail};
use crate::domain::time::Micros;
use crate::domain::{TimeZoneSetting, UserId};
use crate::render::{EmailSettings, RenderedEmail, Renderer};
use crate::store::{EmailUpdate, Store};
use crate::tokens::TokenSigner;

/// What renders a stored email again: the key that signs its links, the email settings,
/// the templates (with the operator's overrides) and the zone its times are shown in.
pub struct Messages {
    pub signer: TokenSigner,
    pub email: EmailSettings,
    pub renderer: Renderer,
    pub time_zone: TimeZoneSetting,
}

impl Messages {
    /// From the settings: the data directory's key (it must exist) and the override
    /// templates read from disk; `renderer.load_errors` says which did not load.
    pub fn load(settings: &Settings) -> Result<Self, ServiceError> {
        let signer = TokenSigner::new(&settings.secret_key_bytes()?);
        Ok(Self::with_signer(settings, signer))
    }

    /// From the settings, with a key already read.
    pub fn with_signer(settings: &Settings, signer: TokenSigner) -> Self {
        Self {
            signer,
            email: settings.email.clone(),
            renderer: crate::templates::load_renderer(&settings.email),
            time_zone: settings.time_zone.clone(),
        }
    }

    /// The complete RFC 5322 message of a stored email, rendered from its packed view as
    /// the sender does, with the stored subject (it may be the LLM's, which rendering
    /// does not know). The same bytes every time.
    pub fn stored_message(&self, email: &QueuedEmail) -> Result<Vec<u8>, ServiceError> {
        let rendered = self.rendered(email)?;
        let message_id = format!("{}.{}", email.date, email.user_id);
        let sent_date = std::time::UNIX_EPOCH
            + std::time::Duration::from_micros(email.scheduled_at.max(0) as u64);
        let message = crate::render::message::build_message(
            &rendered,
            email.to.as_str(),
            &self.email,
            &message_id,
            sent_date,
        )?;
        Ok(message.formatted())
    }
}

impl Messages {
    /// The bodies of a stored email as the sender renders them, with the stored subject.
    pub fn rendered(&self, email: &QueuedEmail) -> Result<RenderedEmail, ServiceError> {
        let user_id = email.user_id.as_str();
        let mut rendered =
            self.renderer
                .render_packed(&email.content, &self.signer, &self.email, user_id)?;
        rendered.subject = email.subject.clone();
        Ok(rendered)
    }
}

/// One user's email of a date as a message.
#[derive(Debug, Clone)]
pub struct Preview {
    pub message: Vec<u8>,
    pub status: EmailStatus,
    pub subject: String,
}

/// The message of `user`'s email of `date`; an error explains why there is none.
pub async fn preview_email(
    store: &dyn Store,
    messages: &Messages,
    date: Date,
    user: &UserId,
) -> Result<Preview, ServiceError> {
    let Some(email) = store.emails(date, Some(user)).await?.pop() else {
        return Err(ServiceError::NotFound {
            explanation: explain_no_picks(store, date, user, Missing::Email).await?,
        });
    };
    Ok(Preview {
        message: messages.stored_message(&email)?,
        status: email.status,
        subject: email.subject,
    })
}

/// The queued emails of a date, ready to write.
#[derive(Debug, Clone)]
pub struct EmailsExport {
    pub date: Date,
    /// In user id order.
    pub emails: Vec<QueuedEmail>,
}

/// Loads the emails of `date`; an error explains why none are queued.
pub async fn load_emails(store: &dyn Store, date: Date) -> Result<EmailsExport, ServiceError> {
    let emails = store.emails(date, None).await?;
    if emails.is_empty() {
        let explanation = match explain_no_day(store, date).await? {
            Some(day) => format!("no emails are queued for {date}: {day}"),
            None => format!(
                "no emails are queued for {date}: its daily run queued none (it ran `--until picks`, or no user got picks; see `mailscore batch list`)"
            ),
        };
        return Err(ServiceError::NotFound { explanation });
    }
    Ok(EmailsExport { date, emails })
}

impl EmailsExport {
    /// The name of a user's message file: the user id with path separators replaced.
    pub fn file_name(email: &QueuedEmail) -> String {
        format!("{}.eml", email.user_id.as_str().replace(['/', '\\'], "_"))
    }

    /// Writes each email's message through `write_file(name, bytes)` and the index of
    /// them (`user_id,to,subject,status,scheduled_at,file`) as CSV to `index`; returns the
    /// number of emails.
    pub fn write(
        &self,
        messages: &Messages,
        index: &mut dyn Write,
        write_file: &mut dyn FnMut(&str, &[u8]) -> std::io::Result<()>,
    ) -> Result<usize, ServiceError> {
        let mut index = csv::Writer::from_writer(index);
        index.write_record(["user_id", "to", "subject", "status", "scheduled_at", "file"])?;
        for email in &self.emails {
            let file = Self::file_name(email);
            write_file(&file, &messages.stored_message(email)?)?;
            index.write_record([
                email.user_id.as_str(),
                email.to.as_str(),
                email.subject.as_str(),
                email.status.as_str(),
                &messages.time_zone.format(email.scheduled_at),
                &file,
            ])?;
        }
        index.flush()?;
        Ok(self.emails.len())
    }
}

/// What an operator may do with one queued email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChange {
    /// `pending` or `failed` → `cancelled`: it is not sent.
    Cancel,
    /// `failed` or `cancelled` → `pending`: the sender tries it again.
    Retry,
}

impl EmailChange {
    fn statuses(self) -> (&'static [EmailStatus], EmailStatus) {
        match self {
            Self::Cancel => (
                &[EmailStatus::Pending, EmailStatus::Failed],
                EmailStatus::Cancelled,
            ),
            Self::Retry => (
                &[EmailStatus::Failed, EmailStatus::Cancelled],
                EmailStatus::Pending,
            ),
        }
    }
}

/// Cancels or retries `user`'s email of `date`; an email in any other status is refused
/// with the statuses the change starts from.
pub async fn change_email(
    store: &dyn Store,
    date: Date,
    user: &UserId,
    change: EmailChange,
    at: Micros,
) -> Result<QueuedEmail, ServiceError> {
    let (from, to) = change.statuses();
    match store.update_email_status(date, user, from, to, at).await? {
        EmailUpdate::Updated(email) => Ok(email),
        EmailUpdate::NotFound => Err(ServiceError::NotFound {
            explanation: format!("no email of {date} is queued for user {user}"),
        }),
        EmailUpdate::Refused(status) => Err(ServiceError::Conflict {
            explanation: format!(
                "the email of {date} for user {user} is {}; only {} emails can be {}",
                status.as_str(),
                from.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                match change {
                    EmailChange::Cancel => "cancelled",
                    EmailChange::Retry => "retried",
                }
            ),
        }),
    }
}
