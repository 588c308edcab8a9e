//! The recent warnings and errors of this process, kept in memory for the log viewer
//! (`GET /api/logs`): a bounded ring ([`LogRing`]) and the `tracing` layer that fills it
//! ([`RingLayer`]).
//!
//! The ring holds the last [`RING_CAPACITY`] WARN and ERROR events, the oldest dropped
//! first, each with its instant, level, target, message, fields and the request id of
//! the request it happened in. Memory stays bounded: every text is cut at
//! [`MAX_TEXT_BYTES`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::domain::time::Micros;

/// How many events the process's ring keeps.
pub const RING_CAPACITY: usize = 1_000;

/// The longest message or field value kept, in bytes; a longer one is cut (at a character
/// boundary) and ends with `…`.
pub const MAX_TEXT_BYTES: usize = 4 * 1024;

/// The span field that names a request (`api/middleware.rs` opens a `request` span with it).
pub const REQUEST_ID_FIELD: &str = "request_id";

/// The levels the ring keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// One logged warning or error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When it was logged (µs since the epoch, UTC).
    pub at: Micros,
    pub level: LogLevel,
    /// The module that logged it (`mailscore::api::session`).
    pub target: String,
    pub message: String,
    /// The event's other fields, in the order they were given, as text.
    pub fields: Vec<(&'static str, String)>,
    /// The id of the request it was logged in: the event's own `request_id` field, else
    /// the innermost span's that has one.
    pub request_id: Option<String>,
}

/// The last `capacity` entries, oldest first inside; read newest first.
#[derive(Debug)]
pub struct LogRing {
    capacity: usize,
    entries: Mutex<VecDeque<LogEntry>>,
}

impl LogRing {
    /// An empty ring that keeps at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity)),
        }
    }

    /// Adds `entry`, dropping the oldest one when the ring is full.
    pub fn push(&self, entry: LogEntry) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// How many entries the ring holds now.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries `keep` keeps, newest first: `limit` of them from `offset` on, and how
    /// many it keeps in all. Only the page is copied.
    pub fn page(
        &self,
        keep: impl Fn(&LogEntry) -> bool,
        offset: usize,
        limit: usize,
    ) -> (Vec<LogEntry>, usize) {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total = 0;
        let mut page = Vec::new();
        for entry in entries.iter().rev().filter(|entry| keep(entry)) {
            if total >= offset && page.len() < limit {
                page.push(entry.clone());
            }
            total += 1;
        }
        (page, total)
    }
}

/// The `tracing` layer that copies every WARN and ERROR event into a [`LogRing`].
pub struct RingLayer {
    ring: Arc<LogRing>,
}

impl RingLayer {
    pub fn new(ring: Arc<LogRing>) -> Self {
        Self { ring }
    }
}

/// A span's request id, kept in the span's extensions when it opens.
struct SpanRequestId(String);

impl<S> Layer<S> for RingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut visitor = RequestIdVisitor(None);
        attributes.record(&mut visitor);
        if let (Some(request_id), Some(span)) = (visitor.0, context.span(id)) {
            span.extensions_mut().insert(SpanRequestId(request_id));
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let level = match *event.metadata().level() {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            _ => return,
        };
        let mut visitor = EventVisitor::default();
        event.record(&mut visitor);
        let request_id = visitor.request_id.or_else(|| {
            context.event_scope(event).and_then(|scope| {
                scope.into_iter().find_map(|span| {
                    span.extensions()
                        .get::<SpanRequestId>()
                        .map(|id| id.0.clone())
                })
            })
        });
        self.ring.push(LogEntry {
            at: jiff::Timestamp::now().as_microsecond(),
            level,
            target: event.metadata().target().to_owned(),
            message: visitor.message,
            fields: visitor.fields,
            request_id,
        });
    }
}

/// Finds the `request_id` field of a span as it opens.
struct RequestIdVisitor(Option<String>);

impl Visit for RequestIdVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == REQUEST_ID_FIELD {
            self.0 = Some(cut(value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == REQUEST_ID_FIELD {
            self.0 = Some(cut(format!("{value:?}")));
        }
    }
}

/// An event's message and fields as text.
#[derive(Default)]
struct EventVisitor {
    message: String,
    fields: Vec<(&'static str, String)>,
    request_id: Option<String>,
}

impl EventVisitor {
    fn keep(&mut self, field: &Field, value: String) {
        let value = cut(value);
        match field.name() {
            "message" => self.message = value,
            REQUEST_ID_FIELD => self.request_id = Some(value),
            name => self.fields.push((name, value)),
        }
    }
}

impl Visit for EventVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.keep(field, format!("{value:?}"));
    }
}

/// `text`, cut to at most [`MAX_TEXT_BYTES`] at a character boundary.
fn cut(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn entry(n: usize, level: LogLevel) -> LogEntry {
        LogEntry {
            at: n as Micros,
            level,
            target: "mailscore::test".to_owned(),
            message: format!("event {n}"),
            fields: Vec::new(),
            request_id: None,
        }
    }

    fn messages(entries: &[LogEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.message.as_str()).collect()
    }

    #[test]
    fn the_ring_keeps_only_the_newest_entries_and_reads_newest_first() {
        let ring = LogRing::new(3);
        for n in 1..=5 {
            ring.push(entry(n, LogLevel::Warn));
        }
        assert_eq!(ring.len(), 3);
        let (page, total) = ring.page(|_| true, 0, 10);
        assert_eq!(total, 3);
        assert_eq!(messages(&page), ["event 5", "event 4", "event 3"]);
    }

    #[test]
    fn a_page_is_counted_over_every_kept_entry_and_copies_only_its_slice() {
        let ring = LogRing::new(10);
        for n in 1..=6 {
            let level = if n % 2 == 0 {
                LogLevel::Error
            } else {
                LogLevel::Warn
            };
            ring.push(entry(n, level));
        }
        let errors = |e: &LogEntry| e.level == LogLevel::Error;
        let (page, total) = ring.page(errors, 1, 1);
        assert_eq!(total, 3);
        assert_eq!(messages(&page), ["event 4"]);
        let (page, total) = ring.page(errors, 5, 10);
        assert_eq!((page.len(), total), (0, 3));
    }

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary() {
        let text = "あ".repeat(MAX_TEXT_BYTES);
        let cut_text = cut(text);
        assert!(cut_text.len() <= MAX_TEXT_BYTES, "{}", cut_text.len());
        assert!(cut_text.ends_with('…'));
        assert_eq!(cut("short".to_owned()), "short");
    }

    #[test]
    fn the_layer_keeps_warnings_and_errors_with_their_fields_and_request_id() {
        let ring = Arc::new(LogRing::new(10));
        let subscriber = tracing_subscriber::registry().with(RingLayer::new(Arc::clone(&ring)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept");
            let span = tracing::info_span!("request", request_id = %"req-1");
            span.in_scope(|| {
                let inner = tracing::info_span!("inner", other = 1);
                inner.in_scope(|| {
                    tracing::warn!(client = "127.0.0.1", attempt = 2, "a login failed")
                });
            });
            tracing::error!(request_id = "own", error = %"disk full", "request failed");
        });
        let (page, total) = ring.page(|_| true, 0, 10);
        assert_eq!(total, 2);
        let error = &page[0];
        assert_eq!(error.level, LogLevel::Error);
        assert_eq!(error.message, "request failed");
        assert_eq!(error.fields, [("error", "disk full".to_owned())]);
        assert_eq!(error.request_id.as_deref(), Some("own"));
        let warning = &page[1];
        assert_eq!(warning.level, LogLevel::Warn);
        assert_eq!(warning.message, "a login failed");
        assert_eq!(
            warning.fields,
            [
                ("client", "127.0.0.1".to_owned()),
                ("attempt", "2".to_owned())
            ]
        );
        assert_eq!(warning.request_id.as_deref(), Some("req-1"));
        assert!(
            warning.target.ends_with("telemetry::ring::tests"),
            "{}",
            warning.target
        );
    }
}
