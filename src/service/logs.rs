//! The server's recent warnings and errors as the log viewer lists them: a filtered page
//! of the process's ring (`telemetry::ring`), newest first.

use crate::telemetry::{LogEntry, LogLevel, LogRing};

/// Which entries a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only entries of this level; both levels when `None`.
    pub level: Option<LogLevel>,
    /// A part of the message, the target, the request id or a field's name or value
    /// (case ignored).
    pub search: Option<String>,
}

impl LogFilter {
    /// Whether the filter keeps `entry`; `needle` is the filter's search, lowercased once.
    fn keeps(&self, entry: &LogEntry, needle: Option<&str>) -> bool {
        let found = needle.is_none_or(|needle| {
            let has = |text: &str| text.to_lowercase().contains(needle);
            has(&entry.message)
                || has(&entry.target)
                || entry.request_id.as_deref().is_some_and(has)
                || entry
                    .fields
                    .iter()
                    .any(|(name, value)| has(name) || has(value))
        });
        found && self.level.is_none_or(|level| entry.level == level)
    }
}

/// One page of log entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// Newest first.
    pub entries: Vec<LogEntry>,
    /// How many entries of the ring match the filter, on every page.
    pub total: usize,
}

/// The entries of `ring` that `filter` keeps, newest first, `limit` of them from `offset`.
pub fn recent_logs(ring: &LogRing, filter: &LogFilter, offset: usize, limit: usize) -> LogPage {
    let needle = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|search| !search.is_empty())
        .map(str::to_lowercase);
    let (entries, total) = ring.page(
        |entry| filter.keeps(entry, needle.as_deref()),
        offset,
        limit,
    );
    LogPage { entries, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> LogRing {
        let ring = LogRing::new(10);
        for (n, level, message, request_id, field) in [
            (
                1,
                LogLevel::Warn,
                "a login failed",
                Some("req-A"),
                ("client", "127.0.0.1"),
            ),
            (
                2,
                LogLevel::Error,
                "request failed",
                Some("req-B"),
                ("error", "Disk full"),
            ),
            (
                3,
                LogLevel::Warn,
                "import rejected",
                None,
                ("file", "jobs.csv"),
            ),
        ] {
            ring.push(LogEntry {
                at: n,
                level,
                target: "mailscore::api".to_owned(),
                message: message.to_owned(),
                fields: vec![(field.0, field.1.to_owned())],
                request_id: request_id.map(str::to_owned),
            });
        }
        ring
    }

    fn messages(page: &LogPage) -> Vec<&str> {
        page.entries.iter().map(|e| e.message.as_str()).collect()
    }

    #[test]
    fn without_a_filter_every_entry_is_listed_newest_first() {
        let page = recent_logs(&ring(), &LogFilter::default(), 0, 20);
        assert_eq!(page.total, 3);
        assert_eq!(
            messages(&page),
            ["import rejected", "request failed", "a login failed"]
        );
    }

    #[test]
    fn the_level_filter_keeps_only_that_level() {
        let warnings = LogFilter {
            level: Some(LogLevel::Warn),
            ..LogFilter::default()
        };
        let page = recent_logs(&ring(), &warnings, 0, 20);
        assert_eq!(messages(&page), ["import rejected", "a login failed"]);
        let errors = LogFilter {
            level: Some(LogLevel::Error),
            ..LogFilter::default()
        };
        assert_eq!(
            messages(&recent_logs(&ring(), &errors, 0, 20)),
            ["request failed"]
        );
    }

    #[test]
    fn the_search_looks_at_message_request_id_and_fields_ignoring_case() {
        for (search, expected) in [
            ("LOGIN", vec!["a login failed"]),
            ("req-b", vec!["request failed"]),
            ("disk full", vec!["request failed"]),
            ("jobs.csv", vec!["import rejected"]),
            ("client", vec!["a login failed"]),
            (
                "  ",
                vec!["import rejected", "request failed", "a login failed"],
            ),
            ("nothing like it", vec![]),
        ] {
            let filter = LogFilter {
                search: Some(search.to_owned()),
                ..LogFilter::default()
            };
            assert_eq!(
                messages(&recent_logs(&ring(), &filter, 0, 20)),
                expected,
                "{search:?}"
            );
        }
    }

    #[test]
    fn level_and_search_combine_and_the_total_counts_every_page() {
        let filter = LogFilter {
            level: Some(LogLevel::Warn),
            search: Some("mailscore::api".to_owned()),
        };
        let page = recent_logs(&ring(), &filter, 1, 1);
        assert_eq!(page.total, 2);
        assert_eq!(messages(&page), ["a login failed"]);
    }
}
