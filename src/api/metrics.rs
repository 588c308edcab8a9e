//! Every metric mailscore exports, declared here and only here, and the process-wide
//! Prometheus recorder that `GET /metrics` renders.
//!
//! Names follow `mailscore_<subsystem>_<name>_<unit>`; counters end in `_total`. Labels
//! have low cardinality: a route label is the route template (`/api/jobs/{id}`), never the
//! path a client sent; a path that matches no route is `unmatched`. The process's memory
//! and file descriptors keep the names every Prometheus client exports
//! (`process_resident_memory_bytes`, `process_open_fds`), which dashboards and alerts
//! already know.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::domain::batch::{EmailStatus, PhaseRecord, RunStatus, RunTrigger};
use crate::domain::{ImportReport, ImportStatus};
use crate::scoring::SectionKind;
use crate::service::run_manager::{LiveRun, RunObserver};
use crate::service::status::{DayStatus, StoreStatus};

/// HTTP requests answered, by `method`, `route` and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "mailscore_http_requests_total";
/// Time from a request's arrival to its response, by `method` and `route`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "mailscore_http_request_duration_seconds";
/// Stored jobs, by `state` (`active`: in the current snapshot; `inactive`: left behind).
pub const STORE_JOBS: &str = "mailscore_store_jobs";
/// Stored users.
pub const STORE_USERS: &str = "mailscore_store_users";
/// Stored actions (applications, clicks, opens …).
pub const STORE_ACTIONS: &str = "mailscore_store_actions";
/// Size of the database file(s) on disk.
pub const STORE_FILE_BYTES: &str = "mailscore_store_file_bytes";
/// Time each store operation took, by `operation` (the store trait's method: `users`,
/// `record_actions`, `token_by_hash` …), from its call to its result.
pub const STORE_OPERATION_DURATION_SECONDS: &str = "mailscore_store_operation_duration_seconds";
/// The picks of the latest run's date, by `section` (`editorial`, `top5`, `regional`,
/// `nearby`, `high_income`, `new`).
pub const STORE_PICKS: &str = "mailscore_store_picks";
/// The emails of the latest run's date, by `status` (`pending`, `sending`, `sent`,
/// `failed`, `cancelled`, `suppressed`).
pub const STORE_EMAILS: &str = "mailscore_store_emails";

/// Tracking links followed, by `kind` (`open`, `click`, `unsubscribe`) and `outcome`
/// (`recorded`; `refused`: a tampered, expired or unknown link, nothing recorded).
pub const TRACKING_EVENTS_TOTAL: &str = "mailscore_tracking_events_total";
/// Tracked actions committed by the group commit, and how many of them were new.
pub const TRACKING_COMMITTED_ACTIONS_TOTAL: &str = "mailscore_tracking_committed_actions_total";
/// Commits of the tracking group commit.
pub const TRACKING_COMMITS_TOTAL: &str = "mailscore_tracking_commits_total";
/// Cache lookups that found their entry, by `cache` (`sessions`).
pub const CACHE_HITS_TOTAL: &str = "mailscore_cache_hits_total";
/// Cache lookups that found nothing, by `cache`.
pub const CACHE_MISSES_TOTAL: &str = "mailscore_cache_misses_total";

/// Bounce and complaint events stored, by `kind` (`hard-bounce`, `soft-bounce`,
/// `complaint`) and `source` (`api`, `ses`, `sendgrid`, `dsn`); duplicates not counted.
pub const BOUNCES_TOTAL: &str = "mailscore_bounces_total";
/// Events received again under a stored source id (a webhook delivered twice), by `source`.
pub const BOUNCE_DUPLICATES_TOTAL: &str = "mailscore_bounce_duplicates_total";
/// Addresses suppressed by bounce events, by `reason` (`hard_bounce`, `complained`,
/// `soft_bounces`).
pub const BOUNCE_SUPPRESSIONS_TOTAL: &str = "mailscore_bounce_suppressions_total";
/// Bounce inputs refused whole, by `source` (a malformed body, a bad secret is not one).
pub const BOUNCE_INPUTS_REFUSED_TOTAL: &str = "mailscore_bounce_inputs_refused_total";
/// Files of the DSN drop folder handled, by `outcome` (`imported`, `rejected`).
pub const BOUNCE_FILES_TOTAL: &str = "mailscore_bounce_files_total";

/// Imports ended, by `kind` (`jobs`, `users`, `actions`, `masters`) and `status`
/// (`imported`, `rejected`: nothing written), whether uploaded or from a run's inbox.
pub const IMPORTS_TOTAL: &str = "mailscore_imports_total";
/// The data rows of the imports that ended, by `kind` and `outcome`: `imported` (took
/// effect), `unchanged` (read and valid, but a repeat in the file or already stored),
/// `skipped` (unusable, reported), `blank`.
pub const IMPORT_ROWS_TOTAL: &str = "mailscore_import_rows_total";

/// Time each phase of a daily run took, by `phase`, as the run's record timed it.
pub const RUN_PHASE_DURATION_SECONDS: &str = "mailscore_run_phase_duration_seconds";
/// How far the phases of the executing run are, from 0 to 1, by `phase` (the last run's
/// values stay once it ended).
pub const RUN_PROGRESS_RATIO: &str = "mailscore_run_progress_ratio";
/// Daily runs ended, by `trigger` (`schedule`, `api`, `cli`) and `status` (`succeeded`,
/// `succeeded_with_warnings`, `failed`, `cancelled`).
pub const RUNS_TOTAL: &str = "mailscore_runs_total";
/// Runs not started because another was executing, by `trigger` (a scheduled run while a
/// run by hand executes).
pub const RUNS_SKIPPED_TOTAL: &str = "mailscore_runs_skipped_total";

/// The resident memory of this process (Linux: `VmRSS` of `/proc/self/status`), read at
/// each scrape.
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
/// The file descriptors this process has open (Linux: the entries of `/proc/self/fd`),
/// read at each scrape.
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the request-duration histogram, in seconds: from a cached read (well
/// under a millisecond) to the request timeout.
const DURATION_BUCKETS_SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds of the run-phase histogram, in seconds: from a phase of a small store to
/// the profiles of a reference-size one and a slow subject endpoint.
const PHASE_BUCKETS_SECONDS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// Upper bounds of the store-operation histogram, in seconds: from a cached point read to
/// a whole import's commit.
const STORE_BUCKETS_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// How often the recorder drains its histogram samples when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. The `metrics` crate takes one global
/// recorder per process, and a process may start several servers (the tests do), so the
/// handle is kept here once and shared by all of them. When some other recorder was
/// installed first, this one still renders but records nothing; that is logged.
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(
                    HTTP_REQUEST_DURATION_SECONDS.to_owned(),
                ),
                DURATION_BUCKETS_SECONDS,
            )
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(RUN_PHASE_DURATION_SECONDS.to_owned()),
                PHASE_BUCKETS_SECONDS,
            )
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(
                    STORE_OPERATION_DURATION_SECONDS.to_owned(),
                ),
                STORE_BUCKETS_SECONDS,
            )
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(error) = metrics::set_global_recorder(recorder) {
            tracing::warn!(%error, "another metrics recorder is installed; /metrics stays empty");
        }
        describe();
        crate::store::observe_operations(record_store_operation);
        let upkeep = handle.clone();
        // A thread rather than a task: the recorder outlives any one runtime (each test
        // has its own), and upkeep is a few microseconds every few seconds.
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no metrics upkeep thread; histograms drain at each scrape");
        }
        handle
    })
}

fn describe() {
    describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP requests answered");
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "time from a request's arrival to its response"
    );
    describe_counter!(
        TRACKING_EVENTS_TOTAL,
        "tracking links followed, by kind and outcome"
    );
    describe_counter!(
        TRACKING_COMMITTED_ACTIONS_TOTAL,
        "tracked opens and clicks committed to the store"
    );
    describe_counter!(TRACKING_COMMITS_TOTAL, "group commits of tracked actions");
    describe_histogram!(
        RUN_PHASE_DURATION_SECONDS,
        Unit::Seconds,
        "time each phase of a daily run took"
    );
    describe_gauge!(
        RUN_PROGRESS_RATIO,
        "how far the phases of the executing run are, from 0 to 1"
    );
    describe_counter!(RUNS_TOTAL, "daily runs ended, by trigger and status");
    describe_counter!(IMPORTS_TOTAL, "imports ended, by kind and status");
    describe_counter!(
        IMPORT_ROWS_TOTAL,
        "data rows of the imports that ended, by kind and outcome"
    );
    describe_counter!(
        RUNS_SKIPPED_TOTAL,
        "runs not started because another was executing"
    );
    describe_gauge!(STORE_JOBS, "stored jobs, by state");
    describe_gauge!(STORE_USERS, "stored users");
    describe_gauge!(STORE_ACTIONS, "stored actions");
    describe_counter!(CACHE_HITS_TOTAL, "cache lookups that found their entry");
    describe_counter!(CACHE_MISSES_TOTAL, "cache lookups that found nothing");
    describe_gauge!(
        STORE_FILE_BYTES,
        Unit::Bytes,
        "size of the database on disk"
    );
    describe_histogram!(
        STORE_OPERATION_DURATION_SECONDS,
        Unit::Seconds,
        "time each store operation took, by operation"
    );
    describe_gauge!(
        PROCESS_RESIDENT_MEMORY_BYTES,
        Unit::Bytes,
        "resident memory of the process"
    );
    describe_gauge!(PROCESS_OPEN_FDS, "file descriptors the process has open");
    describe_counter!(
        BOUNCES_TOTAL,
        "bounce and complaint events stored, by kind and source"
    );
    describe_counter!(
        BOUNCE_DUPLICATES_TOTAL,
        "bounce events received again under a stored source id, by source"
    );
    describe_counter!(
        BOUNCE_SUPPRESSIONS_TOTAL,
        "addresses suppressed by bounce events, by reason"
    );
    describe_counter!(
        BOUNCE_INPUTS_REFUSED_TOTAL,
        "bounce inputs refused whole, by source"
    );
    describe_counter!(
        BOUNCE_FILES_TOTAL,
        "files of the DSN drop folder handled, by outcome"
    );
    describe_gauge!(STORE_PICKS, "picks of the latest run's date, by section");
    describe_gauge!(STORE_EMAILS, "emails of the latest run's date, by status");
}

/// Counts one answered request and its duration.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    counter!(
        HTTP_REQUESTS_TOTAL,
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(elapsed.as_secs_f64());
}

/// Counts one followed tracking link.
pub fn record_tracking_event(kind: &'static str, recorded: bool) {
    let outcome = if recorded { "recorded" } else { "refused" };
    counter!(TRACKING_EVENTS_TOTAL, "kind" => kind, "outcome" => outcome).increment(1);
}

/// Counts what one batch of bounce events did.
pub fn record_bounce_report(
    source: crate::domain::bounce::BounceSource,
    report: &crate::service::bounces::BounceReport,
) {
    for bounce in &report.stored {
        counter!(
            BOUNCES_TOTAL,
            "kind" => bounce.event.kind.as_str(),
            "source" => bounce.event.source.as_str()
        )
        .increment(1);
        if let Some(reason) = bounce.suppressed {
            counter!(BOUNCE_SUPPRESSIONS_TOTAL, "reason" => reason.as_str()).increment(1);
        }
    }
    if report.duplicates > 0 {
        counter!(BOUNCE_DUPLICATES_TOTAL, "source" => source.as_str()).increment(report.duplicates);
    }
}

/// Counts one bounce input refused whole.
pub fn record_bounce_input_refused(source: crate::domain::bounce::BounceSource) {
    counter!(BOUNCE_INPUTS_REFUSED_TOTAL, "source" => source.as_str()).increment(1);
}

/// Counts what one import of the DSN drop folder did.
pub fn record_dsn_import(import: &crate::service::bounces::DsnImport) {
    use crate::service::bounces::DsnFileOutcome;
    for file in &import.files {
        match &file.outcome {
            DsnFileOutcome::Imported(report) => {
                counter!(BOUNCE_FILES_TOTAL, "outcome" => "imported").increment(1);
                record_bounce_report(crate::domain::bounce::BounceSource::Dsn, report);
            }
            DsnFileOutcome::Rejected(_) => {
                counter!(BOUNCE_FILES_TOTAL, "outcome" => "rejected").increment(1);
                record_bounce_input_refused(crate::domain::bounce::BounceSource::Dsn);
            }
        }
    }
}

/// Counts one group commit of tracked actions.
pub fn record_tracking_commit(actions: usize) {
    counter!(TRACKING_COMMITS_TOTAL).increment(1);
    counter!(TRACKING_COMMITTED_ACTIONS_TOTAL).increment(actions as u64);
}

/// Counts one lookup in the cache named `cache`.
pub fn record_cache_lookup(cache: &'static str, hit: bool) {
    let name = if hit {
        CACHE_HITS_TOTAL
    } else {
        CACHE_MISSES_TOTAL
    };
    counter!(name, "cache" => cache).increment(1);
}

/// Counts an import that ended (uploaded, or from a run's inbox) and its rows.
pub fn record_import(report: &ImportReport) {
    let kind = report.kind.clone();
    let status = match report.status {
        ImportStatus::Imported => "imported",
        ImportStatus::Rejected => "rejected",
    };
    counter!(IMPORTS_TOTAL, "kind" => kind.clone(), "status" => status).increment(1);
    let unchanged = report
        .rows_read
        .saturating_sub(report.rows_imported)
        .saturating_sub(report.rows_skipped);
    for (outcome, rows) in [
        ("imported", report.rows_imported),
        ("unchanged", unchanged),
        ("skipped", report.rows_skipped),
        ("blank", report.blank_rows),
    ] {
        counter!(IMPORT_ROWS_TOTAL, "kind" => kind.clone(), "outcome" => outcome).increment(rows);
    }
}

/// Sets the store gauges from a status.
pub fn record_store_status(status: &StoreStatus) {
    gauge!(STORE_JOBS, "state" => "active").set(status.jobs.active as f64);
    gauge!(STORE_JOBS, "state" => "inactive")
        .set(status.jobs.total.saturating_sub(status.jobs.active) as f64);
    gauge!(STORE_USERS).set(status.users as f64);
    gauge!(STORE_ACTIONS).set(status.actions as f64);
    gauge!(STORE_FILE_BYTES).set(status.space.file_bytes as f64);
}

/// Sets the picks and emails gauges from the latest run's date; all zero before any run.
pub fn record_day_status(status: Option<&DayStatus>) {
    for section in SectionKind::ALL {
        let picks = status
            .and_then(|s| s.picks_by_section.iter().find(|(kind, _)| *kind == section))
            .map_or(0, |(_, n)| *n);
        gauge!(STORE_PICKS, "section" => section.as_str()).set(picks as f64);
    }
    for email_status in EmailStatus::ALL {
        let emails = status
            .and_then(|s| {
                s.emails_by_status
                    .iter()
                    .find(|(st, _)| *st == email_status)
            })
            .map_or(0, |(_, n)| *n);
        gauge!(STORE_EMAILS, "status" => email_status.as_str()).set(emails as f64);
    }
}

/// Counts one store operation's duration.
fn record_store_operation(operation: &'static str, elapsed: Duration) {
    histogram!(STORE_OPERATION_DURATION_SECONDS, "operation" => operation)
        .record(elapsed.as_secs_f64());
}

/// Sets the process gauges from what the kernel says now; where it says nothing (not
/// Linux), they are left out.
fn record_process() {
    if let Some(bytes) = resident_memory_bytes() {
        gauge!(PROCESS_RESIDENT_MEMORY_BYTES).set(bytes as f64);
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        gauge!(PROCESS_OPEN_FDS).set(entries.count() as f64);
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

/// The `VmRSS:  12345 kB` line of a `/proc/PID/status` text, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kilobytes: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kilobytes * 1024)
}

/// The metrics in the Prometheus text format, the process gauges read now.
pub fn render() -> String {
    let handle = recorder();
    record_process();
    handle.render()
}

/// The runs' metrics, as the run manager tells them.
pub struct RunMetrics;

impl RunObserver for RunMetrics {
    fn progress(&self, run: &LiveRun) {
        for phase in &run.phases {
            if let Some(ratio) = phase.ratio() {
                gauge!(RUN_PROGRESS_RATIO, "phase" => phase.name).set(ratio);
            }
        }
    }

    fn finished(&self, trigger: RunTrigger, status: RunStatus, phases: &[PhaseRecord]) {
        counter!(RUNS_TOTAL, "trigger" => trigger.as_str(), "status" => status.code()).increment(1);
        for phase in phases {
            histogram!(RUN_PHASE_DURATION_SECONDS, "phase" => phase.name.clone())
                .record(phase.duration_ms as f64 / 1000.0);
        }
    }

    fn skipped(&self, trigger: RunTrigger) {
        counter!(RUNS_SKIPPED_TOTAL, "trigger" => trigger.as_str()).increment(1);
    }

    fn imported(&self, report: &ImportReport) {
        record_import(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resident_memory_is_the_vm_rss_line_in_bytes() {
        let status = "Name:\tmailscore\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name:\tmailscore\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\t lots kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_resident_memory() {
        assert!(resident_memory_bytes().is_some_and(|bytes| bytes > 0));
    }
}
