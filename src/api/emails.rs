//! The email queue: `GET /api/emails` (a date's emails, filtered by status),
//! `GET /api/emails/{date}/{user_id}` (one email's headers and bodies, rendered as the
//! sender renders them), and `POST …/cancel` / `POST …/retry` (`service::emails`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::domain::batch::{EmailStatus, QueuedEmail};
use crate::service::ServiceError;
use crate::service::emails::{EmailChange, change_email};
use crate::service::explain::{Missing, explain_no_picks};
use crate::service::{parse_date, parse_user};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "EmailStatus", rename_all = "snake_case")]
pub enum EmailStatusResponse {
    Pending,
    Sending,
    Sent,
    Failed,
    Cancelled,
    Suppressed,
}

impl From<EmailStatus> for EmailStatusResponse {
    fn from(status: EmailStatus) -> Self {
        match status {
            EmailStatus::Pending => Self::Pending,
            EmailStatus::Sending => Self::Sending,
            EmailStatus::Sent => Self::Sent,
            EmailStatus::Failed => Self::Failed,
            EmailStatus::Cancelled => Self::Cancelled,
            EmailStatus::Suppressed => Self::Suppressed,
        }
    }
}

/// One queued email.
#[derive(Debug, Object)]
#[oai(rename = "Email", skip_serializing_if_is_none)]
pub struct EmailResponse {
    pub date: String,
    pub user_id: String,
    pub to: String,
    pub subject: String,
    pub status: EmailStatusResponse,
    /// RFC 3339.
    pub scheduled_at: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339.
    pub sent_at: Option<String>,
}

impl From<&QueuedEmail> for EmailResponse {
    fn from(email: &QueuedEmail) -> Self {
        Self {
            date: email.date.to_string(),
            user_id: email.user_id.as_str().to_owned(),
            to: email.to.as_str().to_owned(),
            subject: email.subject.clone(),
            status: email.status.into(),
            scheduled_at: rfc3339(email.scheduled_at),
            attempts: email.attempts,
            last_error: email.last_error.clone(),
            created_at: rfc3339(email.created_at),
            updated_at: rfc3339(email.updated_at),
            sent_at: email.sent_at.map(rfc3339),
        }
    }
}

/// A page of a date's emails.
#[derive(Debug, Object)]
#[oai(rename = "EmailPage")]
pub struct EmailPageResponse {
    pub emails: Vec<EmailResponse>,
    /// How many emails of the date have the status asked for (all of them when none).
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

/// One email as the sender sends it.
#[derive(Debug, Object)]
#[oai(rename = "EmailContent")]
pub struct EmailContentResponse {
    pub email: EmailResponse,
    /// The message's header lines, in order (`From`, `To`, `Subject`, `List-Unsubscribe` …).
    pub headers: Vec<HeaderResponse>,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Object)]
#[oai(rename = "EmailHeader")]
pub struct HeaderResponse {
    pub name: String,
    pub value: String,
}

/// The header lines of an RFC 5322 message, unfolded.
fn message_headers(message: &[u8]) -> Vec<HeaderResponse> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut headers: Vec<HeaderResponse> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.value.push(' ');
                last.value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push(HeaderResponse {
                name: name.to_owned(),
                value: value.trim().to_owned(),
            });
        }
    }
    headers
}

fn status_of(status: EmailStatusResponse) -> EmailStatus {
    match status {
        EmailStatusResponse::Pending => EmailStatus::Pending,
        EmailStatusResponse::Sending => EmailStatus::Sending,
        EmailStatusResponse::Sent => EmailStatus::Sent,
        EmailStatusResponse::Failed => EmailStatus::Failed,
        EmailStatusResponse::Cancelled => EmailStatus::Cancelled,
        EmailStatusResponse::Suppressed => EmailStatus::Suppressed,
    }
}

pub struct EmailsApi;

#[OpenApi(tag = "ApiTags::Emails")]
impl EmailsApi {
    /// The emails of a date, in user id order, optionally of one status.
    #[oai(path = "/api/emails", method = "get", operation_id = "list_emails")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD`.
        date: Query<String>,
        /// Only emails of this status.
        status: Query<Option<EmailStatusResponse>>,
        /// How many emails to skip.
        #[oai(default)]
        offset: Query<u64>,
        /// How many emails to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<EmailPageResponse>, ApiError> {
        let date = parse_date(&date.0)?;
        let wanted = status.0.map(status_of);
        let emails: Vec<QueuedEmail> = state
            .store
            .emails(date, None)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .filter(|e| wanted.is_none_or(|s| e.status == s))
            .collect();
        Ok(Json(EmailPageResponse {
            total: emails.len() as u64,
            emails: emails
                .iter()
                .skip(offset.0 as usize)
                .take(limit.0 as usize)
                .map(EmailResponse::from)
                .collect(),
            offset: offset.0,
            limit: limit.0,
        }))
    }

    /// One user's email of a date: its headers and both bodies, as the sender sends them.
    #[oai(
        path = "/api/emails/:date/:user_id",
        method = "get",
        operation_id = "get_email"
    )]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD`.
        date: Path<String>,
        /// The user's `user_id`.
        user_id: Path<String>,
    ) -> Result<Json<EmailContentResponse>, ApiError> {
        let date = parse_date(&date.0)?;
        let user = parse_user(&user_id.0)?;
        let Some(email) = state
            .store
            .emails(date, Some(&user))
            .await
            .map_err(ServiceError::from)?
            .pop()
        else {
            let explanation =
                explain_no_picks(state.store.as_ref(), date, &user, Missing::Email).await?;
            return Err(ServiceError::NotFound { explanation }.into());
        };
        let message = state.messages.stored_message(&email)?;
        let rendered = state.messages.rendered(&email)?;
        Ok(Json(EmailContentResponse {
            email: EmailResponse::from(&email),
            headers: message_headers(&message),
            html: rendered.html,
            text: rendered.text,
        }))
    }

    /// Cancels a `pending` or `failed` email: it is not sent.
    #[oai(
        path = "/api/emails/:date/:user_id/cancel",
        method = "post",
        operation_id = "cancel_email"
    )]
    async fn cancel(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD`.
        date: Path<String>,
        /// The user's `user_id`.
        user_id: Path<String>,
    ) -> Result<Json<EmailResponse>, ApiError> {
        change(&state, &date.0, &user_id.0, EmailChange::Cancel).await
    }

    /// Puts a `failed` or `cancelled` email back to `pending`: the sender tries it again.
    #[oai(
        path = "/api/emails/:date/:user_id/retry",
        method = "post",
        operation_id = "retry_email"
    )]
    async fn retry(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD`.
        date: Path<String>,
        /// The user's `user_id`.
        user_id: Path<String>,
    ) -> Result<Json<EmailResponse>, ApiError> {
        change(&state, &date.0, &user_id.0, EmailChange::Retry).await
    }
}

async fn change(
    state: &AppState,
    date: &str,
    user_id: &str,
    change: EmailChange,
) -> Result<Json<EmailResponse>, ApiError> {
    let date = parse_date(date)?;
    let user = parse_user(user_id)?;
    let email = change_email(
        state.store.as_ref(),
        date,
        &user,
        change,
        jiff::Timestamp::now().as_microsecond(),
    )
    .await?;
    Ok(Json(EmailResponse::from(&email)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_header_lines_are_unfolded() {
        let message = b"From: a@example.jp\r\nSubject: =?utf-8?b?44GC?=\r\n =?utf-8?b?44GE?=\r\nTo: b@example.jp\r\n\r\nbody";
        let headers = message_headers(message);
        let names: Vec<&str> = headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["From", "Subject", "To"]);
        assert_eq!(headers[1].value, "=?utf-8?b?44GC?= =?utf-8?b?44GE?=");
    }
}
