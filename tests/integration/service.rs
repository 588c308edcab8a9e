//! The application services against a real store: exports into memory, the stored
//! message, the explanations of what is missing, the import plan, the suppression list.

use std::collections::BTreeMap;

use mailscore::domain::time::parse_date;
use mailscore::domain::{EmailAddress, SuppressionReason, TimeZoneSetting, UserId};
use mailscore::ingest::ImportKind;
use mailscore::pipeline::{BatchOptions, Phase, run_batch};
use mailscore::render::{EmailSettings, Renderer, unpack_view};
use mailscore::service::emails::{Messages, load_emails, preview_email};
use mailscore::service::exports::{PicksFormat, load_picks, load_scores};
use mailscore::service::imports::plan_imports;
use mailscore::service::{ServiceError, demo, suppressions};
use mailscore::store::prelude::*;

use crate::helpers::{TestStore, test_signer};

fn messages() -> Messages {
    Messages {
        signer: test_signer(),
        email: EmailSettings::default(),
        renderer: Renderer::builtin(),
        time_zone: TimeZoneSetting::tokyo(),
    }
}

/// A generated store whose date 2025-11-25 ran through rendering.
async fn store_with_a_run() -> (TestStore, jiff::civil::Date) {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(800, 60, 30, 11, date).await;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.expect("the date runs");
    (t, date)
}

fn explanation(error: ServiceError) -> String {
    match error {
        ServiceError::NotFound { explanation } => explanation,
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_picks_export_writes_every_stored_pick_into_any_writer() {
    let (t, date) = store_with_a_run().await;
    let stored: usize = t
        .store
        .picks(date, None)
        .await
        .unwrap()
        .iter()
        .map(|u| u.picks.len())
        .sum();
    let export = load_picks(&t.store, date, None).await.unwrap();

    let mut csv = Vec::new();
    let rows = export.write(PicksFormat::Csv, &mut csv).unwrap();
    assert_eq!(rows, stored);
    let text = String::from_utf8(csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "date,user_id,section,rank,job_id,tier,personalized,basic,seo,total,editorial,reasons"
        )
    );
    assert_eq!(lines.clone().count(), stored);
    assert!(lines.all(|line| line.starts_with("2025-11-25,")));

    let mut jsonl = Vec::new();
    assert_eq!(
        export.write(PicksFormat::Jsonl, &mut jsonl).unwrap(),
        stored
    );
    let objects: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect();
    assert_eq!(objects.len(), stored);
    assert!(objects.iter().all(|o| o["fallback"] == false));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scores_export_writes_one_row_per_job() {
    let (t, date) = store_with_a_run().await;
    let export = load_scores(&t.store, date).await.unwrap();
    let mut out = Vec::new();
    assert_eq!(export.write(&mut out).unwrap(), 800);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("job_id,basic,wage,fee,popularity,seo,"));
    assert_eq!(text.lines().count(), 801);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_export_is_explained_before_anything_is_written() {
    let (t, _) = store_with_a_run().await;
    let other_day = parse_date("2025-11-20").unwrap();
    let text = explanation(load_picks(&t.store, other_day, None).await.unwrap_err());
    assert!(
        text.starts_with("no picks stored for 2025-11-20: no daily run has stored picks"),
        "{text}"
    );
    let text = explanation(load_scores(&t.store, other_day).await.unwrap_err());
    assert!(text.contains("--until scores"), "{text}");
    let text = explanation(load_emails(&t.store, other_day).await.unwrap_err());
    assert!(
        text.starts_with("no emails are queued for 2025-11-20"),
        "{text}"
    );
    let nobody = UserId::parse("nobody").unwrap();
    let date = parse_date("2025-11-25").unwrap();
    let text = explanation(load_picks(&t.store, date, Some(&nobody)).await.unwrap_err());
    assert!(text.contains("no user nobody is stored"), "{text}");
    let text = explanation(
        preview_email(&t.store, &messages(), date, &nobody)
            .await
            .unwrap_err(),
    );
    assert!(
        text.starts_with("user nobody has no email for 2025-11-25"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stored_message_is_the_owned_views_message_with_the_stored_subject() {
    let (t, date) = store_with_a_run().await;
    let messages = messages();
    let mut email = t.store.emails(date, None).await.unwrap().remove(0);
    // As an LLM-written subject would be: rendering alone does not know it.
    email.subject = "件名はLLMが書いた".to_owned();
    let message = messages.stored_message(&email).unwrap();

    // The message as the command line built it before: an owned view, the subject patched.
    let user_id = email.user_id.as_str();
    let view = unpack_view(&email.content, &messages.signer, &messages.email, user_id).unwrap();
    let mut rendered = messages.renderer.render(&view, user_id);
    rendered.subject = email.subject.clone();
    let sent = std::time::UNIX_EPOCH + std::time::Duration::from_micros(email.scheduled_at as u64);
    let expected = mailscore::render::message::build_message(
        &rendered,
        email.to.as_str(),
        &messages.email,
        &format!("{}.{}", email.date, email.user_id),
        sent,
    )
    .unwrap()
    .formatted();
    assert_eq!(message, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emails_export_writes_one_message_per_email_and_an_index() {
    let (t, date) = store_with_a_run().await;
    let messages = messages();
    let export = load_emails(&t.store, date).await.unwrap();
    let mut index = Vec::new();
    let mut files = BTreeMap::new();
    let n = export
        .write(&messages, &mut index, &mut |name, bytes| {
            files.insert(name.to_owned(), bytes.to_vec());
            Ok(())
        })
        .unwrap();
    assert_eq!(n, export.emails.len());
    assert_eq!(files.len(), n);
    let index = String::from_utf8(index).unwrap();
    assert_eq!(index.lines().count(), n + 1);
    assert!(index.starts_with("user_id,to,subject,status,scheduled_at,file\n"));
    let first = &export.emails[0];
    let preview = preview_email(&t.store, &messages, date, &first.user_id)
        .await
        .unwrap();
    assert_eq!(
        files[&format!("{}.eml", first.user_id.as_str())],
        preview.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lifting_a_suppression_that_is_not_there_is_an_explained_error() {
    let t = TestStore::new();
    let address = EmailAddress::parse("a@example.com").unwrap();
    let error = suppressions::unsuppress_address(&t.store, &address)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "a@example.com is not on the suppression list"
    );
    suppressions::suppress_address(
        &t.store,
        address.clone(),
        SuppressionReason::Manual,
        None,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        suppressions::list_suppressions(&t.store)
            .await
            .unwrap()
            .len(),
        1
    );
    suppressions::unsuppress_address(&t.store, &address)
        .await
        .unwrap();
}

#[test]
fn the_files_of_a_job_feed_are_one_group_and_other_files_one_each() {
    let t = TestStore::new();
    let a = t.file("a.csv", "x\n");
    let b = t.file("b.csv", "x\n");
    let jobs = plan_imports(ImportKind::Jobs, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].files, [a.clone(), b.clone()]);
    let users = plan_imports(ImportKind::Users, &[a, b]).unwrap();
    assert_eq!(users.len(), 2);
    let empty = t.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let error = plan_imports(ImportKind::Users, &[empty]).unwrap_err();
    assert!(
        matches!(error, ServiceError::NoInputFiles { .. }),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_recipients_of_a_run_add_up_to_the_stored_users() {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(800, 60, 30, 11, date).await;
    let options = BatchOptions {
        until: Phase::Render,
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer())
    };
    let run = run_batch(&t.store, &options).await.unwrap();
    let emails = t.store.emails(date, None).await.unwrap().len() as u64;
    let recipients = demo::recipients(&run, emails, None);
    assert_eq!(recipients.users, 60);
    assert_eq!(recipients.emails + recipients.without_email, 60);
    let explained: u64 = recipients.reasons.iter().map(|(_, n)| n).sum();
    assert_eq!(explained + recipients.unexplained, recipients.without_email);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_user_s_profile_from_their_own_actions_is_the_profile_of_the_whole_day() {
    use mailscore::pipeline::compute::{DayInputs, actions_of_user, profile_day, profile_of_user};
    use mailscore::scoring::{DayWindows, ScoringConfig};
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(500, 40, 60, 5, date).await;
    let (jobs, masters, users) = (
        t.store.job_columns().await.unwrap(),
        t.store.masters().await.unwrap(),
        t.store.users().await.unwrap(),
    );
    let days = t
        .store
        .action_days(i64::MIN / 2, i64::MAX / 2)
        .await
        .unwrap();
    let config = ScoringConfig::default();
    let windows = DayWindows::new(date, &TimeZoneSetting::tokyo(), &config);
    let previous = Default::default();
    let whole_day = profile_day(&DayInputs {
        jobs: &jobs,
        masters: &masters,
        users: &users,
        action_days: &days,
        previous: &previous,
        windows,
        config: &config,
    });
    let mut inferred = 0;
    for (user, expected) in users.iter().zip(&whole_day.profiles) {
        let (own, unreadable) = actions_of_user(&days, user.user_id.as_str());
        assert!(unreadable.is_empty());
        let (profile, stats, _) = profile_of_user(user, &own, &jobs, &masters, windows, &config);
        assert_eq!(profile.location, expected.location, "{}", user.user_id);
        assert_eq!(profile.n_applications, expected.n_applications);
        assert_eq!(profile.cities, expected.cities);
        assert_eq!(profile.occupations, expected.occupations);
        assert_eq!(profile.mean_wage, expected.mean_wage);
        assert_eq!(profile.applied_jobs, expected.applied_jobs);
        let names = |p: &mailscore::scoring::profile::UserProfile,
                     companies: &[String]|
         -> Vec<(String, u32)> {
            p.companies
                .iter()
                .map(|&(c, n)| (companies[c as usize].clone(), n))
                .collect()
        };
        assert_eq!(
            names(&profile, &stats.companies.names),
            names(expected, &whole_day.stats.companies.names)
        );
        inferred += usize::from(profile.location.inferred);
    }
    assert!(inferred > 0, "some generated user's location is inferred");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_latest_days_status_counts_its_picks_by_section_and_its_emails_by_status() {
    let empty = TestStore::new();
    assert_eq!(
        mailscore::service::status::latest_day_status(&empty.store)
            .await
            .unwrap(),
        None,
        "no run, nothing to count"
    );
    let (t, date) = store_with_a_run().await;
    let picks = t.store.picks(date, None).await.unwrap();
    let emails = t.store.emails(date, None).await.unwrap();
    let day = mailscore::service::status::latest_day_status(&t.store)
        .await
        .unwrap()
        .expect("the run's date");
    assert_eq!(day.date, date);
    let by_section: u64 = day.picks_by_section.iter().map(|(_, n)| n).sum();
    assert_eq!(
        by_section as usize,
        picks.iter().map(|u| u.picks.len()).sum::<usize>()
    );
    assert_eq!(
        day.picks_by_section.len(),
        6,
        "every section, also an empty one"
    );
    let top5 = picks
        .iter()
        .flat_map(|u| &u.picks)
        .filter(|p| p.section == mailscore::scoring::SectionKind::Top5.code())
        .count();
    assert!(top5 > 0);
    assert!(
        day.picks_by_section
            .contains(&(mailscore::scoring::SectionKind::Top5, top5 as u64))
    );
    let pending = emails
        .iter()
        .filter(|e| e.status == mailscore::domain::batch::EmailStatus::Pending)
        .count();
    assert!(pending > 0);
    assert!(day.emails_by_status.contains(&(
        mailscore::domain::batch::EmailStatus::Pending,
        pending as u64
    )));
    let by_status: u64 = day.emails_by_status.iter().map(|(_, n)| n).sum();
    assert_eq!(by_status as usize, emails.len());
}

/// What a run manager's observer was told of its imports: (kind, status, rows imported).
#[derive(Default)]
struct ImportsSeen(std::sync::Mutex<Vec<(String, mailscore::domain::ImportStatus, u64)>>);

impl mailscore::service::run_manager::RunObserver for ImportsSeen {
    fn imported(&self, report: &mailscore::domain::ImportReport) {
        self.0
            .lock()
            .unwrap()
            .push((report.kind.clone(), report.status, report.rows_imported));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_run_tells_its_observer_every_inbox_import_imported_or_rejected() {
    use mailscore::domain::ImportStatus;
    use mailscore::domain::batch::RunTrigger;
    use mailscore::service::run_manager::{RunEvent, RunManager, RunRequest, RunSettings};

    let t = TestStore::new();
    let inbox = t.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let rows = [
        crate::helpers::job_row(1, "ホール"),
        crate::helpers::job_row(2, "キッチン"),
    ];
    std::fs::write(inbox.join("jobs.csv"), crate::helpers::jobs_csv(&rows)).unwrap();
    std::fs::write(inbox.join("zz-unknown.csv"), "colour,shape\nred,round\n").unwrap();
    let mut settings = RunSettings::new(TimeZoneSetting::tokyo(), test_signer());
    settings.base.inbox = Some(inbox);
    let seen = std::sync::Arc::new(ImportsSeen::default());
    let TestStore { dir: _dir, store } = t;
    let manager = RunManager::new(
        std::sync::Arc::new(store),
        settings,
        seen.clone(),
        std::sync::Arc::new(mailscore::service::hot_reads::HotReads::new(
            mailscore::cache::no_observer,
        )),
    );
    let handle = manager
        .start(RunRequest {
            date: Some(parse_date("2025-07-02").unwrap()),
            until: Some(Phase::Scores),
            ..RunRequest::new(RunTrigger::Api)
        })
        .await
        .expect("the run starts");
    let mut watch = manager.watch(handle.run_id).await.unwrap();
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            match watch.next().await {
                Some(RunEvent::Outcome(record)) => break record,
                Some(RunEvent::Progress(_)) => continue,
                None => panic!("the stream ended without an outcome"),
            }
        }
    })
    .await
    .expect("the run ends within a minute");
    assert_eq!(
        outcome.status.code(),
        "succeeded_with_warnings",
        "{outcome:?}"
    );
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("jobs".to_owned(), ImportStatus::Imported, 2),
            ("masters".to_owned(), ImportStatus::Rejected, 0),
        ]
    );
}
