//! Generates a realistic, deterministic synthetic dataset in the input formats of SPEC §2: the
//! job feed (`jobs.csv`), the users (`users.csv`) and their actions (`actions.csv`).
//!
//! Everything is drawn from ChaCha8 streams seeded by `GenerateOptions::seed`, never from a clock
//! or a hash map's iteration order, so the same options give byte-identical files. Each file (and
//! each job's text) has its own stream, and the bad input of `--dirty` has streams of its own, so a
//! dirty dataset is the clean one with bad rows added or a few cells spoiled.

mod actions;
mod calendar;
mod companies;
mod job_text;
mod jobs;
mod keywords;
mod postings;
mod records;
mod sampling;
mod users;
mod vocabulary;
mod world;

use std::fs;
use std::io;
use std::path::Path;

use jiff::civil::Date;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use actions::write_actions;
use calendar::Calendar;
use companies::{Company, generate_companies};
use jobs::write_jobs;
use postings::{Job, generate_jobs};
use users::write_users;
use world::World;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of distinct jobs in `jobs.csv`.
    pub jobs: usize,
    /// Number of users in `users.csv`.
    pub users: usize,
    /// Length of the action history in days.
    pub days: u32,
    pub seed: u64,
    /// Add realistic bad input (repeated ids, invalid values, junk rows) on top of the clean data.
    pub dirty: bool,
    /// The batch date the data leads up to: actions fall in the `days` days before it, postings are around it.
    pub end_date: Date,
}

/// What `generate` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Records written to `jobs.csv`, bad rows of `--dirty` included, header and trailing notes excluded.
    pub jobs_rows: usize,
    /// Records written to `users.csv`, header excluded.
    pub users_rows: usize,
    /// Records written to `actions.csv`, header excluded.
    pub actions_rows: usize,
    /// Total size of the three files.
    pub bytes_written: u64,
}

pub const JOBS_FILE_NAME: &str = "jobs.csv";
pub const USERS_FILE_NAME: &str = "users.csv";
pub const ACTIONS_FILE_NAME: &str = "actions.csv";

const FIRST_JOB_ID: u32 = 1_000_001;
const FIRST_USER_ID: u32 = 500_001;
/// Ids of users who act but are not in `users.csv` (deleted accounts, other sites) start here.
const FIRST_UNKNOWN_USER_ID: u32 = 450_001;
/// Job ids below the feed's first id are unknown to it (postings that ended long ago).
const FIRST_UNKNOWN_JOB_ID: u32 = 900_001;
const ACTIONS_PER_USER_PER_DAY: f64 = 1.4;

/// Independent random streams, so that changing one file's size leaves the others unchanged.
mod stream {
    pub const WORLD: u64 = 1;
    pub const COMPANIES: u64 = 2;
    pub const JOBS: u64 = 3;
    pub const USERS: u64 = 4;
    pub const ACTIONS: u64 = 5;
    pub const DIRTY_JOBS: u64 = 6;
    pub const DIRTY_USERS: u64 = 7;
    /// Each job's text has its own stream, `JOB_TEXT + job index`, so a row can be written again.
    pub const JOB_TEXT: u64 = 1 << 32;
    /// The text of a revised (repeated) row of `--dirty`.
    pub const REVISED_JOB_TEXT: u64 = 2 << 32;
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Writes `jobs.csv`, `users.csv` and `actions.csv` into `out_dir` (created when missing).
pub fn generate(options: &GenerateOptions, out_dir: &Path) -> io::Result<GenerateSummary> {
    fs::create_dir_all(out_dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create the directory {}: {error}", out_dir.display()),
        )
    })?;
    let world = World::from_builtin(&mut rng_for(options.seed, stream::WORLD))?;
    let calendar = Calendar::new(options.end_date, options.days)?;
    let companies = generate_companies(
        &world,
        options.jobs,
        &mut rng_for(options.seed, stream::COMPANIES),
    );
    let jobs = generate_jobs(&world, &companies, &mut rng_for(options.seed, stream::JOBS));
    let feed = Feed {
        world: &world,
        calendar: &calendar,
        companies: &companies,
        jobs: &jobs,
    };

    let jobs_path = out_dir.join(JOBS_FILE_NAME);
    let jobs_rows = write_jobs(&feed, options, &jobs_path)?;
    let users_path = out_dir.join(USERS_FILE_NAME);
    let (users, users_rows) = write_users(&feed, options, &users_path)?;
    let actions_path = out_dir.join(ACTIONS_FILE_NAME);
    let actions_rows = write_actions(&feed, options, &users, &actions_path)?;

    let mut bytes_written = 0;
    for path in [&jobs_path, &users_path, &actions_path] {
        bytes_written += fs::metadata(path)?.len();
    }
    Ok(GenerateSummary {
        jobs_rows,
        users_rows,
        actions_rows,
        bytes_written,
    })
}

/// The generated data that every writer reads.
struct Feed<'a> {
    world: &'a World,
    calendar: &'a Calendar,
    companies: &'a [Company],
    jobs: &'a [Job],
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::actions::{ACTION_COLUMNS, ACTION_TYPES};
    use super::*;
    use crate::masters::builtin::FEATURES;

    fn small_options(dirty: bool) -> GenerateOptions {
        GenerateOptions {
            jobs: 300,
            users: 50,
            days: 10,
            seed: 42,
            dirty,
            end_date: jiff::civil::date(2025, 7, 2),
        }
    }

    fn read(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .expect("open csv");
        let headers = reader
            .headers()
            .expect("headers")
            .iter()
            .map(str::to_owned)
            .collect();
        let records = reader.records().map(|r| r.expect("record")).collect();
        (headers, records)
    }

    fn column(headers: &[String], name: &str) -> usize {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("missing column {name}"))
    }

    /// `YYYY-MM-DD HH:MM:SS+09`, a valid local date and time.
    fn parse_tokyo_stamp(text: &str) -> Option<jiff::civil::DateTime> {
        let local = text.strip_suffix("+09")?;
        if local.len() != 19 || local.as_bytes()[10] != b' ' {
            return None;
        }
        local.replacen(' ', "T", 1).parse().ok()
    }

    #[test]
    fn same_options_give_byte_identical_files() {
        for dirty in [false, true] {
            let first = tempfile::tempdir().unwrap();
            let second = tempfile::tempdir().unwrap();
            let options = small_options(dirty);
            let a = generate(&options, first.path()).unwrap();
            let b = generate(&options, second.path()).unwrap();
            assert_eq!(a, b);
            for name in [JOBS_FILE_NAME, USERS_FILE_NAME, ACTIONS_FILE_NAME] {
                let left = fs::read(first.path().join(name)).unwrap();
                let right = fs::read(second.path().join(name)).unwrap();
                assert!(left == right, "{name} differs between two runs");
            }
        }
    }

    #[test]
    fn another_seed_gives_other_data() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        generate(&small_options(false), first.path()).unwrap();
        let options = GenerateOptions {
            seed: 7,
            ..small_options(false)
        };
        generate(&options, second.path()).unwrap();
        let left = fs::read(first.path().join(JOBS_FILE_NAME)).unwrap();
        let right = fs::read(second.path().join(JOBS_FILE_NAME)).unwrap();
        assert_ne!(left, right);
    }

    #[test]
    fn headers_contain_every_required_column_and_jobs_have_at_least_110_columns() {
        let dir = tempfile::tempdir().unwrap();
        generate(&small_options(false), dir.path()).unwrap();
        let (jobs, _) = read(&dir.path().join(JOBS_FILE_NAME));
        assert!(jobs.len() >= 110, "jobs.csv has {} columns", jobs.len());
        let unique: BTreeSet<&String> = jobs.iter().collect();
        assert_eq!(unique.len(), jobs.len(), "duplicate column names");
        // The importers' own column lists: the generator writes what they read.
        for required in crate::ingest::jobs::REQUIRED_COLUMNS
            .iter()
            .chain(&crate::ingest::jobs::OPTIONAL_COLUMNS)
        {
            column(&jobs, required);
        }
        let (users, _) = read(&dir.path().join(USERS_FILE_NAME));
        for required in crate::ingest::users::REQUIRED_COLUMNS
            .iter()
            .chain(&crate::ingest::users::OPTIONAL_COLUMNS)
        {
            column(&users, required);
        }
        let (actions, _) = read(&dir.path().join(ACTIONS_FILE_NAME));
        for required in crate::ingest::actions::REQUIRED_COLUMNS
            .iter()
            .chain(&crate::ingest::actions::OPTIONAL_COLUMNS)
        {
            column(&actions, required);
        }
    }

    #[test]
    fn clean_rows_have_unique_ids_valid_codes_fees_and_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(&small_options(false), dir.path()).unwrap();
        let (headers, records) = read(&dir.path().join(JOBS_FILE_NAME));
        assert_eq!(records.len(), 300);
        assert_eq!(summary.jobs_rows, 300);
        let [job_id, pref_cd, city_cd, fee, features] =
            ["job_id", "pref_cd", "city_cd", "fee", "feature_codes"]
                .map(|name| column(&headers, name));
        let mut ids = BTreeSet::new();
        for record in &records {
            assert_eq!(record.len(), headers.len());
            let id: u64 = record[job_id].parse().expect("integer job_id");
            assert!(ids.insert(id), "job_id {id} repeats");
            let pref: u32 = record[pref_cd].parse().unwrap();
            let city: u32 = record[city_cd].parse().unwrap();
            assert_eq!(pref, city / 1000);
            let fee: u32 = record[fee].parse().unwrap();
            assert!(fee <= 5000);
            let stamps = headers
                .iter()
                .zip(record)
                .filter(|(name, _)| name.ends_with("_at"))
                .map(|(_, value)| value);
            for stamp in stamps {
                assert!(
                    stamp.is_empty() || parse_tokyo_stamp(stamp).is_some(),
                    "bad timestamp {stamp:?}"
                );
            }
            let codes: Vec<&str> = record[features].split(',').collect();
            if !FEATURES.is_empty() {
                assert!((2..=8).contains(&codes.len()), "{codes:?}");
            }
        }
        let (headers, users) = read(&dir.path().join(USERS_FILE_NAME));
        let created_at = column(&headers, "created_at");
        let end = jiff::civil::date(2025, 7, 2).at(0, 0, 0, 0);
        for user in &users {
            let created = parse_tokyo_stamp(&user[created_at]).expect("created_at parses");
            assert!(created < end);
        }
    }

    #[test]
    fn action_rows_fall_in_the_window_and_reference_the_feed() {
        let dir = tempfile::tempdir().unwrap();
        let options = small_options(false);
        let summary = generate(&options, dir.path()).unwrap();
        let (job_headers, jobs) = read(&dir.path().join(JOBS_FILE_NAME));
        let job_ids: BTreeSet<&str> = jobs
            .iter()
            .map(|r| &r[column(&job_headers, "job_id")])
            .collect();
        let (headers, actions) = read(&dir.path().join(ACTIONS_FILE_NAME));
        assert_eq!(actions.len(), summary.actions_rows);
        let expected = ACTIONS_PER_USER_PER_DAY * 50.0 * 10.0;
        assert!(
            (actions.len() as f64) > expected * 0.5 && (actions.len() as f64) < expected * 1.6,
            "{} actions",
            actions.len()
        );
        let first = jiff::civil::date(2025, 6, 22).at(0, 0, 0, 0);
        let end = jiff::civil::date(2025, 7, 2).at(0, 0, 0, 0);
        let [action_at, job_id, action_type] =
            ["action_at", "job_id", "action_type"].map(|name| column(&headers, name));
        let mut known = 0;
        let mut types = BTreeMap::new();
        for record in &actions {
            let at = parse_tokyo_stamp(&record[action_at]).expect("action_at parses");
            assert!(first <= at && at < end, "{at} outside the window");
            known += usize::from(job_ids.contains(&record[job_id]));
            *types.entry(record[action_type].to_owned()).or_insert(0) += 1;
        }
        assert!(known as f64 > actions.len() as f64 * 0.95);
        assert!(types.keys().all(|t| ACTION_TYPES.contains(&t.as_str())));
    }

    #[test]
    fn dirty_data_contains_the_listed_problems() {
        let dir = tempfile::tempdir().unwrap();
        generate(&small_options(true), dir.path()).unwrap();

        let (headers, jobs) = read(&dir.path().join(JOBS_FILE_NAME));
        let job_id = column(&headers, "job_id");
        let mut seen = BTreeSet::new();
        let repeated = jobs
            .iter()
            .filter(|r| r.len() > 2 && !r[job_id].is_empty())
            .filter(|r| !seen.insert(r[job_id].to_owned()))
            .count();
        assert!(repeated >= 1, "no repeated job_id");
        assert!(jobs.iter().any(|r| r.len() > 2 && r[job_id].is_empty()));
        assert!(
            jobs.iter()
                .any(|r| r.len() > 2 && !r[job_id].is_empty() && r[job_id].parse::<u64>().is_err())
        );
        let fee = column(&headers, "fee");
        assert!(
            jobs.iter()
                .any(|r| r.len() > fee && r[fee].parse::<u32>().is_err())
        );
        let pref = column(&headers, "pref_cd");
        assert!(jobs.iter().any(|r| r.len() > pref && &r[pref] == "99"));
        let last = jobs.last().unwrap();
        assert!(last.len() == 2 && &last[0] == "備考");
        let raw = fs::read_to_string(dir.path().join(JOBS_FILE_NAME)).unwrap();
        assert!(
            raw.contains("\r\n\r\n備考,"),
            "no blank line before the notes row"
        );

        let (headers, users) = read(&dir.path().join(USERS_FILE_NAME));
        let email = column(&headers, "email");
        assert!(
            users
                .iter()
                .any(|r| !r[email].contains('@') || r[email] == *"a@b")
        );
        let user_id = column(&headers, "user_id");
        let mut seen = BTreeSet::new();
        assert!(users.iter().any(|r| !seen.insert(r[user_id].to_owned())));

        let (headers, actions) = read(&dir.path().join(ACTIONS_FILE_NAME));
        let [user_id, action_type, action_at] =
            ["user_id", "action_type", "action_at"].map(|name| column(&headers, name));
        assert!(actions.iter().any(|r| &r[action_type] == "purchase"));
        assert!(actions.iter().any(|r| r[user_id].is_empty()));
        assert!(
            actions
                .iter()
                .any(|r| parse_tokyo_stamp(&r[action_at]).is_none()
                    && !r[action_at].ends_with("+00"))
        );
        assert!(actions.iter().any(|r| r[action_at].ends_with("+00")));
        let mut seen = BTreeSet::new();
        assert!(
            actions
                .iter()
                .any(|r| !seen.insert(r.iter().collect::<Vec<_>>().join("\u{1f}"))),
            "no exact duplicate action row"
        );
    }

    #[test]
    fn empty_sizes_write_headers_only() {
        let dir = tempfile::tempdir().unwrap();
        let options = GenerateOptions {
            jobs: 0,
            users: 0,
            days: 0,
            ..small_options(true)
        };
        let summary = generate(&options, &dir.path().join("new")).unwrap();
        assert_eq!(
            (summary.users_rows, summary.actions_rows),
            (0, 0),
            "{summary:?}"
        );
        let (headers, _) = read(&dir.path().join("new").join(ACTIONS_FILE_NAME));
        assert_eq!(headers, ACTION_COLUMNS);
    }

    #[test]
    #[ignore = "reference size: run with --release -- --ignored --nocapture"]
    fn reference_size_generation_runs() {
        let dir = tempfile::tempdir().unwrap();
        let options = GenerateOptions {
            jobs: 100_000,
            users: 10_000,
            days: 365,
            seed: 1,
            dirty: false,
            end_date: jiff::civil::date(2025, 7, 2),
        };
        let started = std::time::Instant::now();
        let summary = generate(&options, dir.path()).unwrap();
        let elapsed = started.elapsed();
        println!("generated in {:.2} s: {summary:?}", elapsed.as_secs_f64());
        for name in [JOBS_FILE_NAME, USERS_FILE_NAME, ACTIONS_FILE_NAME] {
            let bytes = fs::metadata(dir.path().join(name)).unwrap().len();
            println!("{name}: {:.1} MB", bytes as f64 / 1e6);
        }
    }
}
