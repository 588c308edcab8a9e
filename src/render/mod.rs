//! Rendering each user's email from their picks (SPEC §5): subject, HTML and text bodies,
//! tracked links, unsubscribe headers. Pure: the override templates are read from disk by
//! [`crate::templates`] and handed in as text.

pub mod message;
pub mod subject;
pub mod subject_prompt;

use std::collections::HashMap;
use std::path::PathBuf;

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value};
use minijinja::{AutoEscape, Environment};
use serde::{Deserialize, Serialize};

use crate::domain::batch::StoredPick;
use crate::domain::{JobColumns, JobId, Masters, User};
use crate::matching::reasons::Reason;
use crate::scoring::SectionKind;
use crate::scoring::profile::{Geography, Location};
use crate::tokens::{CLICK_TOKEN_SECONDS, Purpose, TokenSigner, UNSUBSCRIBE_TOKEN_SECONDS};

/// The built-in templates, embedded in the binary.
pub const HTML_TEMPLATE: &str = "newsletter.html.j2";
pub const TEXT_TEMPLATE: &str = "newsletter.txt.j2";
const BUILTIN_HTML: &str = include_str!("../../assets/email/newsletter.html.j2");
const BUILTIN_TEXT: &str = include_str!("../../assets/email/newsletter.txt.j2");

/// Defaults of the email settings.
pub const DEFAULT_BASE_URL: &str = "http://localhost:8080";
pub const DEFAULT_SENDER_NAME: &str = "mailscore バイト通信";
pub const DEFAULT_SENDER_EMAIL: &str = "news@example.com";
pub const DEFAULT_SENDER_ADDRESS: &str = "〒100-0005 東京都千代田区丸の内1-1-1 mailscore株式会社";
pub const DEFAULT_NEWSLETTER_NAME: &str = "今日のバイト厳選便";
pub const DEFAULT_TITLE_MAX_CHARS: usize = 40;

/// What every email of a deployment shares.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailSettings {
    /// Public URL of the server, for tracked links and the open pixel.
    pub base_url: String,
    pub sender_name: String,
    pub sender_email: String,
    /// Postal address in the footer (required for commercial email in Japan).
    pub sender_address: String,
    pub newsletter_name: String,
    /// Job titles longer than this are trimmed with "…".
    pub title_max_chars: usize,
    /// A directory whose `newsletter.html.j2` / `newsletter.txt.j2` replace the built-in ones.
    pub templates_dir: Option<PathBuf>,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            sender_name: DEFAULT_SENDER_NAME.to_owned(),
            sender_email: DEFAULT_SENDER_EMAIL.to_owned(),
            sender_address: DEFAULT_SENDER_ADDRESS.to_owned(),
            newsletter_name: DEFAULT_NEWSLETTER_NAME.to_owned(),
            title_max_chars: DEFAULT_TITLE_MAX_CHARS,
            templates_dir: None,
        }
    }
}

/// One job of an email. The views are generic over their text type: owned (`String`) when
/// built and stored, borrowed (`&str`) when a stored one is rendered straight from its bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobView<S = String> {
    pub job_id: u64,
    pub title: S,
    pub company: S,
    pub pay: S,
    pub place: S,
    pub station: S,
    pub hours: S,
    pub tags: Vec<S>,
    pub reason: S,
    /// Tracked link; rebuilt from the token signer when a stored view is unpacked.
    pub url: S,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SectionView<S = String> {
    pub key: S,
    pub title: S,
    pub jobs: Vec<JobView<S>>,
}

/// Everything a template sees.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmailView<S = String> {
    pub user_id: S,
    pub newsletter_name: S,
    pub date: S,
    pub date_label: S,
    pub greeting: S,
    pub intro: S,
    pub preheader: S,
    pub sections: Vec<SectionView<S>>,
    pub unsubscribe_url: S,
    pub open_pixel_url: S,
    pub sender_name: S,
    pub sender_address: S,
    /// Themes of the picks, strongest first.
    pub themes: Vec<S>,
    pub location_label: S,
    pub n_jobs: usize,
}

/// A rendered email, ready for the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
    pub unsubscribe_url: String,
    /// Template problems met while rendering (a broken override falls back to the built-in).
    pub template_errors: Vec<String>,
}

/// What the view of one email is made from.
pub struct EmailInputs<'a> {
    pub user: &'a User,
    pub location: Location,
    pub date: jiff::civil::Date,
    pub picks: &'a [StoredPick],
    pub jobs: &'a JobColumns,
    pub masters: &'a Masters,
    pub geography: &'a Geography,
    /// Enabled feature names by code.
    pub feature_names: &'a HashMap<u32, String>,
    pub signer: &'a TokenSigner,
    pub settings: &'a EmailSettings,
}

const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// `11月25日(火)`.
pub fn date_label(date: jiff::civil::Date) -> String {
    let weekday = WEEKDAYS[date.weekday().to_monday_zero_offset() as usize];
    format!("{}月{}日({weekday})", date.month(), date.day())
}

fn trim_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Hours may hold HTML: line breaks (`<br>` in any case and spelling) become " / ", other
/// tags go, entities are decoded, white space is collapsed.
fn plain_hours(hours: &str) -> String {
    let mut out = String::with_capacity(hours.len());
    let mut rest = hours;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close]
            .trim()
            .trim_end_matches('/')
            .trim();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        out.push_str(if name.eq_ignore_ascii_case("br") {
            " / "
        } else {
            " "
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let decoded = html_escape::decode_html_entities(&out).into_owned();
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn section_title(kind: SectionKind, pref: Option<&str>, city: Option<&str>) -> String {
    match kind {
        SectionKind::Editorial => "編集部おすすめ".to_owned(),
        SectionKind::Top5 => "あなたにおすすめ".to_owned(),
        SectionKind::Regional => pref.map_or("全国のおすすめ".to_owned(), |p| {
            format!("{p}のおすすめ")
        }),
        SectionKind::Nearby => match (city, pref) {
            (Some(city), _) => format!("{city}周辺"),
            (None, Some(pref)) => format!("{pref}の近くのお仕事"),
            (None, None) => "近くのお仕事".to_owned(),
        },
        SectionKind::HighIncome => "高収入・日払い".to_owned(),
        SectionKind::New => "新着".to_owned(),
    }
}

/// The themes an email's picks share, strongest first.
fn themes(picks: &[StoredPick]) -> Vec<&'static str> {
    let candidates = [
        (Reason::HighWage, "高時給"),
        (Reason::DailyPay, "日払いOK"),
        (Reason::New, "新着"),
        (Reason::NearbyArea, "近場"),
        (Reason::FavouriteOccupation, "いつもの職種"),
        (Reason::WageAsWanted, "希望の給与"),
    ];
    let mut counted: Vec<(usize, usize, &'static str)> = candidates
        .iter()
        .enumerate()
        .map(|(order, (reason, label))| {
            (
                picks
                    .iter()
                    .filter(|p| p.reasons & reason.bit() != 0)
                    .count(),
                order,
                *label,
            )
        })
        .filter(|(count, _, _)| *count > 0)
        .collect();
    counted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    counted.into_iter().map(|(_, _, label)| label).collect()
}

/// Where a job is, as the email shows it: the prefecture and city names from the masters;
/// where the masters name no city (a code newer than the city master, or none), the feed's
/// own `area` text, else the prefecture name alone.
fn job_place(geography: &Geography, jobs: &JobColumns, row: usize) -> String {
    let pref = geography
        .pref_names
        .get(&jobs.pref_cd[row])
        .map_or("", String::as_str);
    match geography.city_names.get(&jobs.city_cd[row]) {
        Some(city) => format!("{pref}{city}"),
        None => {
            let area = jobs.area.get(row).trim();
            if area.is_empty() {
                pref.to_owned()
            } else {
                area.to_owned()
            }
        }
    }
}

/// Builds the view of one user's email, without its links ([`fill_links`] adds them).
pub fn build_view(inputs: &EmailInputs<'_>) -> EmailView {
    let settings = inputs.settings;
    let date = inputs.date.to_string();
    let pref_name = inputs
        .location
        .pref_cd
        .and_then(|p| inputs.geography.pref_names.get(&p))
        .map(String::as_str);
    let city_name = inputs
        .location
        .city_cd
        .and_then(|c| inputs.geography.city_names.get(&c))
        .map(String::as_str);
    let location_label = match (pref_name, city_name) {
        (Some(pref), Some(city)) => format!("{pref}{city}"),
        (Some(pref), None) => pref.to_owned(),
        (None, Some(city)) => city.to_owned(),
        (None, None) => String::new(),
    };
    let user_id = inputs.user.user_id.as_str();
    let mut sections: Vec<SectionView> = Vec::new();
    let mut picks: Vec<&StoredPick> = inputs.picks.iter().collect();
    picks.sort_by_key(|p| (p.section, p.rank));
    for pick in picks {
        let Some(kind) = SectionKind::from_code(pick.section) else {
            continue;
        };
        let Some(row) = inputs.jobs.position(JobId::new(pick.job_id)) else {
            continue;
        };
        let jobs = inputs.jobs;
        let place = job_place(inputs.geography, jobs, row);
        let job = JobView {
            job_id: pick.job_id,
            title: trim_chars(jobs.application_name.get(row), settings.title_max_chars),
            company: jobs.company_name.get(row).to_owned(),
            pay: jobs.salary_text.get(row).to_owned(),
            place,
            station: jobs.station_name_eki.get(row).to_owned(),
            hours: trim_chars(&plain_hours(jobs.hours.get(row)), 60),
            tags: jobs
                .feature_codes
                .get(row)
                .iter()
                .filter_map(|code| inputs.feature_names.get(code).cloned())
                .take(3)
                .collect(),
            reason: Reason::labels(pick.reasons)
                .into_iter()
                .take(2)
                .collect::<Vec<_>>()
                .join("・"),
            url: String::new(),
        };
        match sections.last_mut() {
            Some(section) if section.key == kind.as_str() => section.jobs.push(job),
            _ => sections.push(SectionView {
                key: kind.as_str().to_owned(),
                title: section_title(kind, pref_name, city_name),
                jobs: vec![job],
            }),
        }
    }
    let n_jobs = sections.iter().map(|s| s.jobs.len()).sum();
    let themes: Vec<String> = themes(inputs.picks)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let name = inputs
        .user
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let greeting = match (name, location_label.is_empty()) {
        (Some(name), false) => format!("{name} 様（{location_label}）"),
        (Some(name), true) => format!("{name} 様"),
        (None, false) => format!("{location_label}にお住まいの皆さま"),
        (None, true) => "いつもご利用ありがとうございます。".to_owned(),
    };
    let theme_text = if themes.is_empty() {
        String::new()
    } else {
        format!(
            "「{}」",
            themes
                .iter()
                .take(3)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("」「")
        )
    };
    let intro = if theme_text.is_empty() {
        format!("今日のおすすめバイト{n_jobs}件をお届けします。")
    } else {
        format!("今日は{theme_text}のお仕事を中心に、おすすめバイト{n_jobs}件をお届けします。")
    };
    let mut view = EmailView {
        user_id: user_id.to_owned(),
        newsletter_name: settings.newsletter_name.clone(),
        date_label: date_label(inputs.date),
        date,
        greeting,
        preheader: intro.clone(),
        intro,
        sections,
        unsubscribe_url: String::new(),
        open_pixel_url: String::new(),
        sender_name: settings.sender_name.clone(),
        sender_address: settings.sender_address.clone(),
        themes,
        location_label,
        n_jobs,
    };
    let _ = inputs.signer;
    view.sections.retain(|section| !section.jobs.is_empty());
    view
}

/// The tracked links of a view: one per job in order, the open pixel, the unsubscribe link.
/// Deterministic for a key, user, date and job, so a stored view renders again to the same
/// bytes.
struct Links {
    jobs: Vec<String>,
    open_pixel: String,
    unsubscribe: String,
}

fn links<S: AsRef<str>>(
    view: &EmailView<S>,
    signer: &TokenSigner,
    settings: &EmailSettings,
) -> Links {
    let base = settings.base_url.trim_end_matches('/');
    let (user_id, date) = (view.user_id.as_ref(), view.date.as_ref());
    let expires_from = jiff::civil::Date::strptime("%Y-%m-%d", date)
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map_or(0, |z| z.timestamp().as_second());
    let sign = |out: &mut String, purpose, job_id, seconds: i64| {
        signer.sign_into(out, purpose, user_id, job_id, date, expires_from + seconds);
    };
    let campaign = date.replace('-', "");
    let mut jobs = Vec::with_capacity(view.n_jobs);
    for section in &view.sections {
        for job in &section.jobs {
            let mut url = String::with_capacity(base.len() + 250);
            url.push_str(base);
            url.push_str("/t/c/");
            sign(&mut url, Purpose::Click, job.job_id, CLICK_TOKEN_SECONDS);
            url.push_str("?utm_source=mailscore&utm_medium=email&utm_campaign=daily_");
            url.push_str(&campaign);
            url.push_str("&utm_content=");
            url.push_str(section.key.as_ref());
            jobs.push(url);
        }
    }
    let mut open_pixel = format!("{base}/t/o/");
    sign(&mut open_pixel, Purpose::Open, 0, CLICK_TOKEN_SECONDS);
    open_pixel.push_str(".gif");
    let mut unsubscribe = format!("{base}/u/");
    sign(
        &mut unsubscribe,
        Purpose::Unsubscribe,
        0,
        UNSUBSCRIBE_TOKEN_SECONDS,
    );
    Links {
        jobs,
        open_pixel,
        unsubscribe,
    }
}

/// Sets every tracked link of a view: deterministic for a key, user, date and job, so a
/// stored view renders again to the same bytes.
pub fn fill_links(view: &mut EmailView, signer: &TokenSigner, settings: &EmailSettings) {
    let links = links(view, signer, settings);
    let mut job_links = links.jobs.into_iter();
    for section in &mut view.sections {
        for job in &mut section.jobs {
            job.url = job_links.next().unwrap_or_default();
        }
    }
    view.open_pixel_url = links.open_pixel;
    view.unsubscribe_url = links.unsubscribe;
}

/// The compact stored form of a view: without its links (rebuilt on unpacking), postcard,
/// LZ4. About a tenth of the rendered bodies.
pub fn pack_view(view: &EmailView) -> Vec<u8> {
    let mut bare = view.clone();
    for section in &mut bare.sections {
        for job in &mut section.jobs {
            job.url.clear();
        }
    }
    bare.open_pixel_url.clear();
    bare.unsubscribe_url.clear();
    let bytes = postcard::to_allocvec(&bare).expect("a view serialises");
    lz4_flex::compress_prepend_size(&bytes)
}

#[derive(Debug, thiserror::Error)]
#[error("the stored email of user {user_id} cannot be read: {message}")]
pub struct UnpackError {
    pub user_id: String,
    pub message: String,
}

fn decompress(bytes: &[u8], user_id: &str) -> Result<Vec<u8>, UnpackError> {
    lz4_flex::decompress_size_prepended(bytes).map_err(|e| UnpackError {
        user_id: user_id.to_owned(),
        message: e.to_string(),
    })
}

/// Decodes a stored view without copying its text out of `raw`.
fn decode<'a, S: Deserialize<'a>>(
    raw: &'a [u8],
    user_id: &str,
) -> Result<EmailView<S>, UnpackError> {
    postcard::from_bytes(raw).map_err(|e| UnpackError {
        user_id: user_id.to_owned(),
        message: e.to_string(),
    })
}

/// The view of a stored email, links rebuilt.
pub fn unpack_view(
    bytes: &[u8],
    signer: &TokenSigner,
    settings: &EmailSettings,
    user_id: &str,
) -> Result<EmailView, UnpackError> {
    let raw = decompress(bytes, user_id)?;
    let mut view: EmailView = decode(&raw, user_id)?;
    fill_links(&mut view, signer, settings);
    Ok(view)
}

/// A struct as the templates see it: fixed field names, values converted once. Faster than
/// `Value::from_serialize` (no serializer pass, no per-lookup map search over `Value` keys),
/// and the same to a template: attribute access, `is defined`, iteration over the keys.
#[derive(Debug)]
struct Record {
    keys: &'static [&'static str],
    values: Vec<Value>,
}

impl Object for Record {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let index = self.keys.iter().position(|k| *k == key)?;
        self.values.get(index).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(self.keys)
    }
}

fn record(keys: &'static [&'static str], values: Vec<Value>) -> Value {
    debug_assert_eq!(keys.len(), values.len());
    Value::from_object(Record { keys, values })
}

fn text(value: &impl AsRef<str>) -> Value {
    Value::from(value.as_ref())
}

fn job_value<S: AsRef<str>>(job: &JobView<S>) -> Value {
    const KEYS: &[&str] = &[
        "title", "company", "pay", "place", "station", "hours", "tags", "reason", "url", "job_id",
    ];
    record(
        KEYS,
        vec![
            text(&job.title),
            text(&job.company),
            text(&job.pay),
            text(&job.place),
            text(&job.station),
            text(&job.hours),
            Value::from(job.tags.iter().map(|t| text(t)).collect::<Vec<_>>()),
            text(&job.reason),
            text(&job.url),
            Value::from(job.job_id),
        ],
    )
}

/// The template context of a view: every field of [`EmailView`] under its own name.
fn context<S: AsRef<str>>(view: &EmailView<S>) -> Value {
    const SECTION_KEYS: &[&str] = &["key", "title", "jobs"];
    const KEYS: &[&str] = &[
        "user_id",
        "newsletter_name",
        "date",
        "date_label",
        "greeting",
        "intro",
        "preheader",
        "sections",
        "unsubscribe_url",
        "open_pixel_url",
        "sender_name",
        "sender_address",
        "themes",
        "location_label",
        "n_jobs",
    ];
    let sections: Vec<Value> = view
        .sections
        .iter()
        .map(|section| {
            record(
                SECTION_KEYS,
                vec![
                    text(&section.key),
                    text(&section.title),
                    Value::from(section.jobs.iter().map(job_value).collect::<Vec<_>>()),
                ],
            )
        })
        .collect();
    record(
        KEYS,
        vec![
            text(&view.user_id),
            text(&view.newsletter_name),
            text(&view.date),
            text(&view.date_label),
            text(&view.greeting),
            text(&view.intro),
            text(&view.preheader),
            Value::from(sections),
            text(&view.unsubscribe_url),
            text(&view.open_pixel_url),
            text(&view.sender_name),
            text(&view.sender_address),
            Value::from(view.themes.iter().map(|t| text(t)).collect::<Vec<_>>()),
            text(&view.location_label),
            Value::from(view.n_jobs),
        ],
    )
}

/// The auto-escaping of the HTML templates: [`escape_html`], through [`format_value`].
/// minijinja's own `AutoEscape::Html` also writes every `/` as `&#x2f;`, so each URL of an
/// email would read `http:&#x2f;&#x2f;…`: valid HTML, but spam filters and link scanners
/// take entity-encoded URLs for obfuscation.
const HTML_ESCAPE: AutoEscape = AutoEscape::Custom("html");

/// Writes `text` escaped for HTML text and attribute values, with only the escapes HTML
/// needs: `&`, `<`, `>`, `"` (double-quoted attributes) and `'` (single-quoted ones, which
/// an operator's template may use). A URL keeps its `/` and `:`.
pub fn escape_html(text: &str, out: &mut impl std::fmt::Write) -> std::fmt::Result {
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&text[start..index])?;
        out.write_str(escape)?;
        start = index + 1;
    }
    out.write_str(&text[start..])
}

/// The formatter of every template: [`HTML_ESCAPE`] values through [`escape_html`] (a
/// value marked safe is written as it is); any other mode as minijinja writes it.
fn format_value(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() != HTML_ESCAPE || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let written = match value.as_str() {
        Some(text) => escape_html(text, out),
        None => escape_html(&value.to_string(), out),
    };
    written.map_err(minijinja::Error::from)
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.contains(".html") {
            HTML_ESCAPE
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(format_value);
    env.set_trim_blocks(false);
    env
}

fn unsubscribe_url_of(context: &minijinja::Value) -> String {
    context
        .get_attr("unsubscribe_url")
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Renders emails with the built-in templates, or an operator's overrides where they load.
pub struct Renderer {
    builtin: Environment<'static>,
    overrides: Option<Environment<'static>>,
    /// Problems loading the override templates (they are then not used).
    pub load_errors: Vec<String>,
}

fn describe(error: &minijinja::Error) -> String {
    let mut text = format!("template {}", error.name().unwrap_or("?"));
    if let Some(line) = error.line() {
        text.push_str(&format!(" line {line}"));
    }
    text.push_str(&format!(": {}", error.kind()));
    if let Some(detail) = error.detail() {
        text.push_str(&format!(" ({detail})"));
    }
    text
}

/// The operator's override templates (`email.templates_dir`), as read from disk by
/// [`crate::templates::read_overrides`]; rendering itself reads no file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OverrideTemplates {
    /// No directory is set, or it holds neither template: the built-in templates.
    #[default]
    None,
    /// The source of each template the directory holds (`None`: that one is built in).
    Sources {
        html: Option<String>,
        text: Option<String>,
    },
    /// A template could not be read (this message says which and why): the built-in
    /// templates, and the message reported with every email.
    Unreadable(String),
}

impl Renderer {
    /// A renderer with the built-in templates only.
    pub fn builtin() -> Self {
        Self::with_overrides(OverrideTemplates::None)
    }

    /// A renderer with the operator's `overrides` where they parse, else the built-in
    /// templates (a template that does not parse is reported with every email).
    pub fn with_overrides(overrides: OverrideTemplates) -> Self {
        let mut builtin = environment();
        builtin
            .add_template(HTML_TEMPLATE, BUILTIN_HTML)
            .expect("the built-in HTML template parses");
        builtin
            .add_template(TEXT_TEMPLATE, BUILTIN_TEXT)
            .expect("the built-in text template parses");
        let mut load_errors = Vec::new();
        let overrides = match overrides {
            OverrideTemplates::None => None,
            OverrideTemplates::Unreadable(message) => {
                load_errors.push(message);
                None
            }
            OverrideTemplates::Sources { html, text } => {
                let mut env = environment();
                let mut parsed = true;
                for (name, source, builtin_source) in [
                    (HTML_TEMPLATE, html, BUILTIN_HTML),
                    (TEXT_TEMPLATE, text, BUILTIN_TEXT),
                ] {
                    let Some(source) = source else {
                        env.add_template(name, builtin_source)
                            .expect("the built-in template parses");
                        continue;
                    };
                    if let Err(error) = env.add_template_owned(name.to_owned(), source) {
                        load_errors.push(format!(
                            "{}; using the built-in templates",
                            describe(&error)
                        ));
                        parsed = false;
                        break;
                    }
                }
                parsed.then_some(env)
            }
        };
        Self {
            builtin,
            overrides,
            load_errors,
        }
    }

    /// Renders a stored email straight from its packed bytes, as the sender does: the text is
    /// read in place rather than copied into an owned view first. The same email as
    /// `render(&unpack_view(..))`.
    pub fn render_packed(
        &self,
        bytes: &[u8],
        signer: &TokenSigner,
        settings: &EmailSettings,
        user_id: &str,
    ) -> Result<RenderedEmail, UnpackError> {
        let raw = decompress(bytes, user_id)?;
        let mut view: EmailView<&str> = decode(&raw, user_id)?;
        let links = links(&view, signer, settings);
        let mut job_links = links.jobs.iter();
        for section in &mut view.sections {
            for job in &mut section.jobs {
                job.url = job_links.next().map_or("", String::as_str);
            }
        }
        view.open_pixel_url = &links.open_pixel;
        view.unsubscribe_url = &links.unsubscribe;
        Ok(self.render(&view, user_id))
    }

    fn render_with(
        env: &Environment<'static>,
        view: &minijinja::Value,
    ) -> Result<(String, String), minijinja::Error> {
        let html = env.get_template(HTML_TEMPLATE)?.render(view)?;
        let text = env.get_template(TEXT_TEMPLATE)?.render(view)?;
        Ok((html, text))
    }

    /// Renders one email. A failing override falls back to the built-in templates and the
    /// failure is returned with the email; the built-in templates cannot fail on a valid view.
    pub fn render<S: AsRef<str>>(&self, view: &EmailView<S>, user_id: &str) -> RenderedEmail {
        let mut template_errors = self.load_errors.clone();
        // Converted once, shared by both templates.
        let context = context(view);
        let subject = subject::rule_subject(view, user_id);
        let view = &context;
        let bodies = match &self.overrides {
            Some(env) => match Self::render_with(env, view) {
                Ok(bodies) => Some(bodies),
                Err(error) => {
                    template_errors.push(format!(
                        "{}; using the built-in templates",
                        describe(&error)
                    ));
                    None
                }
            },
            None => None,
        };
        let (html, text) = bodies.unwrap_or_else(|| {
            Self::render_with(&self.builtin, view)
                .expect("the built-in templates render every view")
        });
        RenderedEmail {
            subject,
            html,
            text,
            unsubscribe_url: unsubscribe_url_of(view),
            template_errors,
        }
    }
}
