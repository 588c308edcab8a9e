//! Shared helpers: temporary stores, fixture files, the real master exports.

use std::io::Write;
use std::path::{Path, PathBuf};

use mailscore::domain::batch::{EmailStatus, QueuedEmail, StoredPick, UserPicks};
use mailscore::domain::time::parse_date;
use mailscore::domain::{EmailAddress, ImportReport, TimeZoneSetting, UserId};
use mailscore::ingest::{EncodingChoice, ImportKind, ImportOptions, IngestError, import_file};
use mailscore::store::redb::RedbStore;

/// The real master and keyword exports kept for tests beside the repository, or `None`
/// (with a message naming the missing folder) where they are absent, as in a plain clone:
/// a test that needs them then skips.
pub fn shared_data() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if path.is_dir() {
        Some(path)
    } else {
        // Written to stderr directly rather than with `eprintln!`, which the test harness
        // captures and shows only for a failing test: a skip must be seen. The harness names
        // each test's thread after the test.
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let _ = writeln!(
            std::io::stderr(),
            "skipped {test}: the real master exports are not in {} (they sit beside the \
             repository on the development machines and in CI)",
            path.display()
        );
        None
    }
}

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: RedbStore,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = RedbStore::open(dir.path()).expect("a fresh store opens");
        Self { dir, store }
    }

    /// Writes `contents` to a file named `name` in the test's directory.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("fixture written");
        path
    }

    pub async fn import(&self, kind: ImportKind, path: &Path) -> Result<ImportReport, IngestError> {
        self.import_as(kind, path, EncodingChoice::Auto).await
    }

    /// Imports `path` read in `encoding` (as `--encoding` does).
    pub async fn import_as(
        &self,
        kind: ImportKind,
        path: &Path,
        encoding: EncodingChoice,
    ) -> Result<ImportReport, IngestError> {
        let options = ImportOptions {
            encoding,
            ..ImportOptions::new(TimeZoneSetting::tokyo())
        };
        import_file(&self.store, kind, path, &options).await
    }

    /// Imports a job feed past the snapshot guard (`--allow-shrink`).
    pub async fn import_allowing_shrink(&self, path: &Path) -> Result<ImportReport, IngestError> {
        let options = ImportOptions {
            max_shrink_percent: None,
            ..ImportOptions::new(TimeZoneSetting::tokyo())
        };
        mailscore::ingest::import_jobs(&self.store, &[path.to_path_buf()], &options).await
    }

    /// Generates a small dataset leading up to `end_date` and imports jobs, users and actions.
    pub async fn with_generated(
        jobs: usize,
        users: usize,
        days: u32,
        seed: u64,
        end_date: jiff::civil::Date,
    ) -> Self {
        let t = Self::new();
        let data = t.dir.path().join("generated");
        let options = mailscore::generate::GenerateOptions {
            jobs,
            users,
            days,
            seed,
            dirty: false,
            end_date,
        };
        mailscore::generate::generate(&options, &data).expect("the dataset is generated");
        for (kind, file) in [
            (ImportKind::Jobs, "jobs.csv"),
            (ImportKind::Users, "users.csv"),
            (ImportKind::Actions, "actions.csv"),
        ] {
            t.import(kind, &data.join(file))
                .await
                .expect("the generated file imports");
        }
        t
    }
}

/// The key tests sign email links with.
pub fn test_signer() -> mailscore::tokens::TokenSigner {
    mailscore::tokens::TokenSigner::new(b"test key of thirty-two bytes....")
}

pub const JOB_HEADER: &str = "job_id,endcl_cd,company_name,application_name,pref_cd,city_cd,salary_type_cd,min_salary,max_salary,fee,employment_type_cd,occupation_cd1,feature_codes,start_at,end_at,catch_copy,del_flg,image_url_1";

/// A valid job row for [`JOB_HEADER`].
pub fn job_row(job_id: u64, title: &str) -> String {
    format!(
        "{job_id},EC{job_id},株式会社テスト,{title},13,13113,1,1200,1400,800,1,100,\"100,103\",2025-07-01 00:00:00+09,2025-09-30 23:59:59+09,\"未経験歓迎, 日払いOK\",0,https://example.jp/{job_id}.jpg"
    )
}

pub fn jobs_csv(rows: &[String]) -> String {
    let mut text = String::from(JOB_HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

/// A queued email of `user` for `date`, its content the subject's bytes.
pub fn queued(user: &str, date: &str, status: EmailStatus, subject: &str) -> QueuedEmail {
    QueuedEmail {
        user_id: UserId::parse(user).unwrap(),
        date: parse_date(date).unwrap(),
        to: EmailAddress::parse(&format!("{user}@example.jp")).unwrap(),
        subject: subject.to_owned(),
        scheduled_at: 0,
        status,
        attempts: 0,
        last_error: None,
        created_at: 0,
        updated_at: 0,
        sent_at: None,
        content: subject.as_bytes().to_vec(),
    }
}

/// `user`'s picks: the one job `job_id`, first in the first section.
pub fn user_picks(user: &str, job_id: u64) -> UserPicks {
    UserPicks {
        user_id: UserId::parse(user).unwrap(),
        picks: vec![StoredPick {
            section: 1,
            rank: 1,
            job_id,
            tier: 0,
            personalized: 0.0,
            basic: 0.0,
            seo: 0.0,
            total: 0.0,
            editorial: 0.0,
            reasons: 0,
        }],
        fallback: false,
    }
}
