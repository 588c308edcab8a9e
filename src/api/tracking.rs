//! The links of an email, reachable without login: the open pixel (`GET /t/o/{token}.gif`),
//! the click redirect (`GET /t/c/{token}`), mailscore's own page of a job whose feed row has
//! no `url` (`GET /t/j/{token}`), and unsubscribing (`GET /u/{token}` shows a confirmation
//! page in Japanese, `POST /u/{token}` unsubscribes: the page's form and the RFC 8058
//! one-click `List-Unsubscribe=One-Click` post alike).
//!
//! Every handler verifies the link's signed token (`service::tracking`). A refused token
//! records nothing and answers a 404 page: a click never redirects anywhere but the job's
//! own `url` or mailscore's job page, so a tampered link is no open redirect.

use std::sync::Arc;

use poem::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION};
use poem::http::{HeaderValue, StatusCode};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Response, Route, get, handler};
use serde::Deserialize;

use super::AppState;
use super::metrics::record_tracking_event;
use crate::domain::JobId;
use crate::service::ServiceError;
use crate::service::tracking::{self, ClickTarget};
use crate::telemetry::ErrorChain;
use crate::tokens::Purpose;

/// The route templates of this module, for the route label of metrics and logs.
pub const ROUTES: &[&str] = &["/t/o/{token}", "/t/c/{token}", "/t/j/{token}", "/u/{token}"];

/// The 43-byte transparent 1×1 GIF of the open pixel.
pub const PIXEL_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The pages' policy: their own inline style, a form that posts to this origin, nothing
/// else.
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// The tracking routes, to nest at `/t`.
pub fn routes_t() -> Route {
    Route::new()
        .at("/o/:file", get(open_pixel))
        .at("/c/:token", get(click))
        .at("/j/:token", get(job_page))
}

/// The unsubscribe route, to nest at `/u`.
pub fn routes_u() -> Route {
    Route::new().at("/:token", get(unsubscribe_page).post(unsubscribe))
}

fn now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

#[handler]
async fn open_pixel(state: Data<&Arc<AppState>>, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".gif").unwrap_or(&file);
    match tracking::open(&state.tracking, &state.messages.signer, token, now()).await {
        Ok(()) => {
            record_tracking_event("open", true);
            Response::builder()
                .content_type("image/gif")
                .header(CACHE_CONTROL, "no-store")
                .body(PIXEL_GIF.to_vec())
        }
        Err(error) => refused_page("open", error),
    }
}

#[derive(Debug, Deserialize)]
struct ClickQuery {
    utm_content: Option<String>,
}

#[handler]
async fn click(
    state: Data<&Arc<AppState>>,
    Path(token): Path<String>,
    Query(query): Query<ClickQuery>,
) -> Response {
    let outcome = tracking::click(
        state.store.as_ref(),
        &state.hot,
        &state.tracking,
        &state.messages.signer,
        &token,
        query.utm_content.as_deref(),
        now(),
    )
    .await;
    match outcome {
        Ok((_, target)) => {
            record_tracking_event("click", true);
            let location = match target {
                ClickTarget::Url(url) => url,
                ClickTarget::JobPage => format!("/t/j/{token}"),
            };
            match HeaderValue::from_str(&location) {
                Ok(location) => Response::builder()
                    .status(StatusCode::FOUND)
                    .header(LOCATION, location)
                    .header(CACHE_CONTROL, "no-store")
                    .finish(),
                Err(_) => page(
                    StatusCode::NOT_FOUND,
                    "求人が見つかりません",
                    "<p>この求人のページを開けませんでした。</p>",
                ),
            }
        }
        Err(error) => refused_page("click", error),
    }
}

#[handler]
async fn job_page(state: Data<&Arc<AppState>>, Path(token): Path<String>) -> Response {
    let Ok((claims, _)) =
        tracking::verify_link(&state.messages.signer, &token, Purpose::Click, now())
    else {
        return not_found_page();
    };
    let job = match state
        .hot
        .job(state.store.as_ref(), JobId::new(claims.job_id))
        .await
    {
        Ok(job) => job,
        Err(ServiceError::NotFound { .. }) => {
            return page(
                StatusCode::NOT_FOUND,
                "求人が見つかりません",
                "<p>この求人の掲載は終了しました。</p>",
            );
        }
        Err(error) => return internal_page(error),
    };
    let text =
        |column: &str| html_escape::encode_text(job.value(column).unwrap_or("")).into_owned();
    let mut rows = String::new();
    for (label, column) in [
        ("会社名", "company_name"),
        ("給与", "salary"),
        ("勤務地", "area"),
        ("最寄り駅", "station_name_eki"),
        ("勤務時間", "hours"),
        ("仕事内容", "job_contents"),
        ("応募資格", "requirement"),
    ] {
        if job.value(column).is_some_and(|v| !v.is_empty()) {
            rows.push_str(&format!(
                "<tr><th>{label}</th><td>{}</td></tr>",
                text(column)
            ));
        }
    }
    let closed = if job.active {
        ""
    } else {
        "<p class=\"note\">この求人の掲載は終了しています。</p>"
    };
    page(
        StatusCode::OK,
        &text("application_name"),
        &format!("{closed}<table>{rows}</table>"),
    )
}

#[handler]
async fn unsubscribe_page(state: Data<&Arc<AppState>>, Path(token): Path<String>) -> Response {
    match tracking::unsubscribe_status(state.store.as_ref(), &state.messages.signer, &token, now())
        .await
    {
        Ok(status) if status.already => page(
            StatusCode::OK,
            "配信停止済みです",
            &format!(
                "<p>{} へのメール配信はすでに停止しています。</p>",
                html_escape::encode_text(&status.masked_address)
            ),
        ),
        Ok(status) => page(
            StatusCode::OK,
            "メール配信の停止",
            &format!(
                "<p>{} へのおすすめ求人メールの配信を停止します。よろしいですか？</p>\
                 <form method=\"post\"><button type=\"submit\">配信を停止する</button></form>",
                html_escape::encode_text(&status.masked_address)
            ),
        ),
        Err(error) => refused_page("unsubscribe", error),
    }
}

/// The page's form and the RFC 8058 one-click post (`List-Unsubscribe=One-Click`): both
/// unsubscribe, whatever the body says, since the signed link alone is the authority.
#[handler]
async fn unsubscribe(state: Data<&Arc<AppState>>, Path(token): Path<String>) -> Response {
    match tracking::unsubscribe(state.store.as_ref(), &state.messages.signer, &token, now()).await {
        Ok(status) => {
            record_tracking_event("unsubscribe", true);
            page(
                StatusCode::OK,
                "配信を停止しました",
                &format!(
                    "<p>{} へのメール配信を停止しました。ご利用ありがとうございました。</p>",
                    html_escape::encode_text(&status.masked_address)
                ),
            )
        }
        Err(error) => refused_page("unsubscribe", error),
    }
}

/// A refused link: the 404 page, nothing recorded. A failing store is a 500 page.
fn refused_page(kind: &'static str, error: ServiceError) -> Response {
    match error {
        ServiceError::Link(reason) => {
            record_tracking_event(kind, false);
            tracing::info!(kind, %reason, "tracking link refused");
            not_found_page()
        }
        other => internal_page(other),
    }
}

fn not_found_page() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "ページが見つかりません",
        "<p>このリンクは無効か、有効期限が切れています。最新のメールのリンクをお使いください。</p>",
    )
}

fn internal_page(error: ServiceError) -> Response {
    tracing::error!(error = %ErrorChain(&error), "tracking link failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "エラーが発生しました",
        "<p>しばらくしてからもう一度お試しください。</p>",
    )
}

/// A small self-contained HTML page; `title` and `body` are already escaped.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title><style>\
         body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222}}\
         h1{{font-size:1.3em}}th{{text-align:left;padding-right:1em;vertical-align:top;white-space:nowrap}}\
         td,th{{padding:.3em 0}}button{{font-size:1em;padding:.5em 1.5em}}.note{{color:#a00}}\
         </style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, html)
        .with_content_type("text/html; charset=utf-8")
        .with_header(CONTENT_SECURITY_POLICY, PAGE_CSP)
        .with_header(CACHE_CONTROL, "no-store")
        .into_response()
}
