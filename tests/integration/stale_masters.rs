//! Codes newer than the masters (SPEC §2.1): the real city master predates 浜松市中央区
//! (22138, a ward since 2024); jobs, users and actions there keep the code, match by it, and
//! get its name as soon as a city master names it.

use mailscore::domain::time::parse_date;
use mailscore::domain::{Severity, TimeZoneSetting, UserId};
use mailscore::ingest::ImportKind;
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::render::EmailSettings;
use mailscore::scoring::round6;
use mailscore::store::prelude::*;
use mailscore::templates::load_renderer;

use crate::helpers::{TestStore, shared_data, test_signer};

const NEW_WARD: u32 = 22138;
const HEADER: &str = "job_id,endcl_cd,company_name,application_name,pref_cd,city_cd,area,salary_type_cd,min_salary,max_salary,fee,employment_type_cd,occupation_cd1,feature_codes,start_at,end_at";

fn job(job_id: u64, pref: u16, city: u32, area: &str) -> String {
    format!(
        "{job_id},EC{job_id},株式会社テスト{job_id},ホールスタッフ{job_id},{pref},{city},{area},1,1200,1400,800,1,100,,2025-07-01 00:00:00+09,2025-12-31 23:59:59+09"
    )
}

fn fee_score(fee: f64) -> f64 {
    (fee - 500.0) / 4500.0 * 100.0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_city_newer_than_the_master_is_kept_matched_and_named_once_the_master_knows_it() {
    let Some(shared) = shared_data() else { return };
    let t = TestStore::new();
    for file in ["city_view.csv", "prefecture_view.csv"] {
        t.import(ImportKind::Masters, &shared.join(file))
            .await
            .unwrap();
    }
    let masters = t.store.masters().await.unwrap();
    assert!(
        masters.cities.iter().all(|c| c.city_cd.get() != NEW_WARD),
        "the real city master predates the ward"
    );

    let mut feed = format!("{HEADER}\n");
    for row in [
        job(1, 22, NEW_WARD, "浜松駅周辺エリア"),
        job(4, 22, NEW_WARD, "浜松駅周辺エリア"),
        job(5, 22, NEW_WARD, "浜松駅周辺エリア"),
        job(6, 22, 22131, "浜松市中区"),
        job(7, 13, 13113, "渋谷区"),
        job(8, 13, 13113, "渋谷区"),
    ] {
        feed.push_str(&row);
        feed.push('\n');
    }
    // Enough other jobs that every section, the nearby one too, gets some.
    for job_id in 10..40 {
        feed.push_str(&job(job_id, 13, 13113, "渋谷区"));
        feed.push('\n');
    }
    let report = t
        .import(ImportKind::Jobs, &t.file("jobs.csv", feed))
        .await
        .unwrap();
    assert_eq!(report.rows_imported, 36);
    let unknown: Vec<_> = report
        .issues
        .iter()
        .filter(|i| i.column.as_deref() == Some("city_cd"))
        .collect();
    assert_eq!(
        unknown.len(),
        1,
        "one warning per value: {:?}",
        report.issues
    );
    assert_eq!(
        (unknown[0].line, unknown[0].severity),
        (2, Severity::Warning)
    );
    assert!(
        unknown[0].message.contains("3 rows"),
        "{}",
        unknown[0].message
    );
    let columns = t.store.job_columns().await.unwrap();
    assert_eq!(
        columns.city_cd[..5],
        [NEW_WARD, NEW_WARD, NEW_WARD, 22131, 13113]
    );
    assert_eq!(columns.pref_cd[0], 22, "the job keeps its own pref_cd");

    let users = t.file(
        "users.csv",
        "user_id,email,name,city_cd\nu1,u1@example.jp,直己,\nu2,u2@example.jp,,22138\nu3,u3@example.jp,,\n",
    );
    let report = t.import(ImportKind::Users, &users).await.unwrap();
    assert_eq!(report.rows_imported, 3);
    assert_eq!(report.warnings, 1, "{:?}", report.issues);
    let stored = t.store.users().await.unwrap();
    let u2 = stored
        .iter()
        .find(|u| u.user_id == UserId::parse("u2").unwrap())
        .unwrap();
    assert_eq!(u2.city_cd.map(|c| c.get()), Some(NEW_WARD));

    // u1's snapshot cells are empty and filled from job 1; u3 names the ward itself, on a
    // job the feed does not hold.
    let actions = t.file(
        "actions.csv",
        "user_id,job_id,action_type,action_at,pref_cd,city_cd,occupation_cd1,employment_type_cd\n\
         u1,1,applied,2025-11-01 10:00:00+09,,,,\n\
         u3,999,applied,2025-11-02 10:00:00+09,22,22138,100,1\n",
    );
    let report = t.import(ImportKind::Actions, &actions).await.unwrap();
    assert_eq!(report.rows_imported, 2);
    assert_eq!(report.warnings, 1, "{:?}", report.issues);
    assert_eq!(report.issues[0].line, 3, "the row that names the ward");

    let date = parse_date("2025-11-25").unwrap();
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.unwrap();
    let picks = t.store.picks(date, None).await.unwrap();
    let pick = |user: &str, job_id: u64| {
        picks
            .iter()
            .find(|p| p.user_id == user)
            .and_then(|p| p.picks.iter().find(|pick| pick.job_id == job_id))
            .copied()
            .unwrap_or_else(|| panic!("{user} has job {job_id} among the picks"))
    };
    for user in ["u1", "u3"] {
        // Location weight 1.0 in the ward (the user's city), 0.3 in Tokyo.
        let in_ward = pick(user, 4);
        assert_eq!(
            round6(in_ward.editorial),
            round6(0.5 * fee_score(800.0)),
            "{user}"
        );
        assert_eq!(
            round6(pick(user, 7).editorial),
            round6(0.3 * 0.5 * fee_score(800.0)),
            "{user}"
        );
    }
    // u1 applied once, in the ward: every component at its best but the company (50).
    let personal = |city_share: f64| {
        (0.20 * 100.0
            + 0.15 * city_share
            + 0.20 * 100.0
            + 0.15 * 100.0
            + 0.15 * 100.0
            + 0.15 * 50.0)
            / 1.0
    };
    assert_eq!(round6(pick("u1", 4).personalized), round6(personal(100.0)));
    assert_eq!(
        round6(pick("u1", 6).personalized),
        round6(personal(20.0)),
        "a city of the same prefecture u1 never applied in"
    );

    let settings = EmailSettings::default();
    let renderer = load_renderer(&settings);
    let email_text = |emails: &[mailscore::domain::batch::QueuedEmail]| {
        let email = emails.iter().find(|e| e.user_id == "u1").unwrap();
        renderer
            .render_packed(&email.content, &test_signer(), &settings, "u1")
            .unwrap()
            .text
    };
    let before = email_text(&t.store.emails(date, None).await.unwrap());
    assert!(before.contains("直己 様（静岡県）"), "{before}");
    assert!(
        before.contains("浜松駅周辺エリア"),
        "the feed's area: {before}"
    );
    assert!(before.contains("静岡県の近くのお仕事"), "{before}");
    assert!(!before.contains("浜松市中央区"), "{before}");

    // A city master that knows the ward: its name is used without importing the feed again.
    let mut cities = std::fs::read_to_string(shared.join("city_view.csv")).unwrap();
    if !cities.ends_with('\n') {
        cities.push('\n');
    }
    cities.push_str(
        "22138,22,静岡県,浜松市中央区,浜松市中央区,はままつしちゅうおうく,34.7108,137.7267,0,1,0,22130\n",
    );
    t.import(ImportKind::Cities, &t.file("cities.csv", cities))
        .await
        .unwrap();
    run_batch(&t.store, &options).await.unwrap();
    let after = email_text(&t.store.emails(date, None).await.unwrap());
    assert!(after.contains("直己 様（静岡県浜松市中央区）"), "{after}");
    assert!(after.contains("浜松市中央区周辺"), "{after}");
    assert!(after.contains("静岡県浜松市中央区"), "{after}");
}
