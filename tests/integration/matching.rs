//! SPEC §4 (the 40 picks) as scenarios: small hand-built days driven through the pure core
//! (`compute_day`), one test per rule, plus a property test over random small days.

use std::collections::{HashMap, HashSet};

use jiff::civil::{Date, date};
use mailscore::domain::action::{ActionColumnsBuilder, ActionRow};
use mailscore::domain::batch::StoredPick;
use mailscore::domain::{
    ActionType, CityCode, EmailAddress, Fee, JobColumns, JobFields, JobId, Masters, PrefCode,
    TimeZoneSetting, User, UserId,
};
use mailscore::masters::builtin_masters;
use mailscore::pipeline::{DayInputs, DayResults, Phase, compute_day};
use mailscore::scoring::{DayWindows, ScoringConfig, SectionKind, SectionSpec};
use proptest::prelude::*;

/// The batch date D of every scenario.
const D: Date = date(2025, 11, 20);
const HOUR: i64 = 3_600_000_000;

// Tier codes (`Tier::code`).
const CITY: u8 = 0;
const PREFECTURE: u8 = 1;
const REGION: u8 = 2;
const ANYWHERE: u8 = 3;
const ALL: u8 = 4;

// Section codes (`SectionKind::code`).
const EDITORIAL: u8 = 0;
const TOP5: u8 = 1;
const REGIONAL: u8 = 2;
const NEARBY: u8 = 3;
const HIGH_INCOME: u8 = 4;
const NEW: u8 = 5;

/// Local (Asia/Tokyo) midnight starting D − `days_before` (negative: after D).
fn midnight(days_before: i64) -> i64 {
    let day = D
        .checked_sub(jiff::Span::new().days(days_before))
        .expect("date in range");
    TimeZoneSetting::tokyo().start_of_day(day)
}

/// 10:00 local on D − `days_before`.
fn morning(days_before: i64) -> i64 {
    midnight(days_before) + 10 * HOUR
}

/// An eligible job: fee 1000 yen, 1200 yen/h, part-time (1), occupation 100, posted 30 days
/// before D and ending 30 days after it.
fn job(id: u64, company: Option<&str>, pref: u16, city: Option<u32>) -> JobFields {
    JobFields {
        job_id: Some(JobId::new(id)),
        endcl_cd: company.map(str::to_owned),
        company_name: "テスト株式会社".into(),
        application_name: "ホールスタッフ".into(),
        pref_cd: Some(PrefCode::new(pref)),
        city_cd: city.map(CityCode::new),
        salary_type_cd: Some(1),
        min_salary: Some(1200),
        fee: Fee::new(1000),
        employment_type_cd: Some(1),
        occupation_cd1: Some(100),
        start_at: Some(morning(30)),
        end_at: Some(morning(-30)),
        is_delivery: true,
        ..Default::default()
    }
}

fn with_fee(mut fields: JobFields, fee: u16) -> JobFields {
    fields.fee = Fee::new(fee);
    fields
}

fn with_title(mut fields: JobFields, title: &str) -> JobFields {
    fields.application_name = title.to_owned();
    fields
}

fn user(id: &str, pref: Option<u16>, city: Option<u32>) -> User {
    User {
        user_id: UserId::parse(id).unwrap(),
        email: EmailAddress::parse(&format!("{id}@example.com")).unwrap(),
        name: None,
        pref_cd: pref.map(PrefCode::new),
        city_cd: city.map(CityCode::new),
        age_range: None,
        gender: None,
        is_active: true,
        subscribed: true,
        created_at: None,
        extra: vec![],
        consent: None,
    }
}

/// One action; snapshot cells left at 0 / `None` are filled from the job when it is known.
#[derive(Debug, Clone, Default)]
struct Action {
    user: String,
    job_id: u64,
    kind: Option<ActionType>,
    at: i64,
    endcl_cd: Option<String>,
    pref_cd: u16,
    city_cd: u32,
    occupation_cd1: u32,
    employment_type_cd: u16,
    salary_type_cd: u16,
    min_salary: u32,
}

/// A day's inputs, built by hand.
struct Day {
    jobs: Vec<JobFields>,
    masters: Masters,
    users: Vec<User>,
    actions: Vec<Action>,
    previous: HashMap<String, (Vec<u64>, Vec<u64>)>,
    config: ScoringConfig,
}

impl Day {
    /// Built-in masters without SEO keywords (so the SEO score is 0 and out of the way),
    /// default settings.
    fn new() -> Self {
        let mut masters = builtin_masters();
        masters.keywords.clear();
        Self {
            jobs: Vec::new(),
            masters,
            users: Vec::new(),
            actions: Vec::new(),
            previous: HashMap::new(),
            config: ScoringConfig::default(),
        }
    }

    fn job(&mut self, fields: JobFields) -> &mut Self {
        self.jobs.push(fields);
        self
    }

    fn user(&mut self, user: User) -> &mut Self {
        self.users.push(user);
        self
    }

    /// `user` applied to a job of the feed at `at` (the snapshot is filled from the job).
    fn apply(&mut self, user: &str, job_id: u64, at: i64) -> &mut Self {
        self.actions.push(Action {
            user: user.to_owned(),
            job_id,
            kind: Some(ActionType::Applied),
            at,
            ..Action::default()
        });
        self
    }

    fn action(&mut self, action: Action) -> &mut Self {
        self.actions.push(action);
        self
    }

    /// Only these sections, in this order.
    fn sections(&mut self, sections: &[(SectionKind, usize)]) -> &mut Self {
        self.config.sections = sections
            .iter()
            .map(|&(kind, count)| SectionSpec { kind, count })
            .collect();
        self
    }

    fn job_columns(&self) -> JobColumns {
        let mut columns = JobColumns::new();
        for fields in &self.jobs {
            columns.push(fields.job_id.expect("every test job has an id"), fields);
        }
        columns.sorted_by_job_id()
    }

    fn run(&self) -> DayResults {
        let jobs = self.job_columns();
        let mut builder = ActionColumnsBuilder::new();
        for a in &self.actions {
            builder.push(&ActionRow {
                user_id: &a.user,
                job_id: a.job_id,
                action_type: a.kind,
                action_at: a.at,
                endcl_cd: a.endcl_cd.as_deref(),
                pref_cd: a.pref_cd,
                city_cd: a.city_cd,
                occupation_cd1: a.occupation_cd1,
                employment_type_cd: a.employment_type_cd,
                salary_type_cd: a.salary_type_cd,
                min_salary: a.min_salary,
                fee: -1,
                ..Default::default()
            });
        }
        let action_days: [Box<dyn mailscore::domain::action::ActionDay>; 1] =
            [Box::new(mailscore::domain::action::DecodedActionDay {
                day: 0,
                columns: builder.finish(),
            })];
        let windows = DayWindows::new(D, &TimeZoneSetting::tokyo(), &self.config);
        let mut previous = mailscore::domain::batch::PreviousPicks::default();
        for (user, (day_before, two_days_before)) in &self.previous {
            let user = mailscore::domain::UserId::parse(user).unwrap();
            previous.insert(user.clone(), 1, day_before.clone());
            previous.insert(user, 2, two_days_before.clone());
        }
        compute_day(
            &DayInputs {
                jobs: &jobs,
                masters: &self.masters,
                users: &self.users,
                action_days: &action_days,
                previous: &previous,
                windows,
                config: &self.config,
            },
            Phase::Picks,
        )
    }
}

/// The picks of `user` (who must have some).
fn picks_of<'r>(results: &'r DayResults, user: &str) -> &'r [StoredPick] {
    let all = results
        .picks
        .as_ref()
        .expect("the run reached the picks phase");
    let entry = all
        .iter()
        .find(|u| u.user_id == user)
        .unwrap_or_else(|| panic!("no picks for {user}"));
    assert!(!entry.fallback, "{user}'s matching failed");
    &entry.picks
}

fn has_picks(results: &DayResults, user: &str) -> bool {
    results
        .picks
        .as_ref()
        .expect("the run reached the picks phase")
        .iter()
        .any(|u| u.user_id == user && !u.picks.is_empty())
}

fn ids(picks: &[StoredPick]) -> Vec<u64> {
    picks.iter().map(|p| p.job_id).collect()
}

fn sorted_ids(picks: &[StoredPick]) -> Vec<u64> {
    let mut ids = ids(picks);
    ids.sort_unstable();
    ids
}

fn in_section(picks: &[StoredPick], section: u8) -> Vec<StoredPick> {
    picks
        .iter()
        .filter(|p| p.section == section)
        .copied()
        .collect()
}

/// (job id, tier) of each pick, in order.
fn ids_and_tiers(picks: &[StoredPick]) -> Vec<(u64, u8)> {
    picks.iter().map(|p| (p.job_id, p.tier)).collect()
}

fn fee_score(fee: f64) -> f64 {
    if fee <= 500.0 {
        0.0
    } else if fee >= 5000.0 {
        100.0
    } else {
        (fee - 500.0) / 4500.0 * 100.0
    }
}

fn assert_close(got: f64, expected: f64, what: &str) {
    assert!(
        (got - expected).abs() < 1e-6,
        "{what}: expected {expected}, got {got}"
    );
}

/// Checks the invariants of one user's email under `config`: distinct jobs, company cap,
/// section sizes, ranks 1..n in order within each section, sections in configured order.
fn assert_well_formed(picks: &[StoredPick], jobs: &JobColumns, config: &ScoringConfig) {
    let mut seen = HashSet::new();
    for p in picks {
        assert!(seen.insert(p.job_id), "job {} picked twice", p.job_id);
    }
    let mut per_company: HashMap<&str, usize> = HashMap::new();
    for p in picks {
        let row = jobs
            .position(JobId::new(p.job_id))
            .expect("picked job exists");
        let company = jobs.endcl_cd.get(row);
        if !company.is_empty() {
            *per_company.entry(company).or_default() += 1;
        }
    }
    for (company, n) in &per_company {
        assert!(
            *n <= config.company_cap,
            "{n} jobs of company {company} in one email"
        );
    }
    let order: Vec<u8> = config.sections.iter().map(|s| s.kind.code()).collect();
    let mut last_position = 0;
    for p in picks {
        let position = order
            .iter()
            .position(|c| *c == p.section)
            .expect("pick of a configured section");
        assert!(
            position >= last_position,
            "sections out of order: {picks:?}"
        );
        last_position = position;
    }
    for spec in &config.sections {
        let section = in_section(picks, spec.kind.code());
        assert!(
            section.len() <= spec.count,
            "{} has {} picks, at most {}",
            spec.kind.as_str(),
            section.len(),
            spec.count
        );
        let ranks: Vec<u8> = section.iter().map(|p| p.rank).collect();
        let expected: Vec<u8> = (1..=section.len() as u8).collect();
        assert_eq!(ranks, expected, "ranks of {}", spec.kind.as_str());
    }
}

// ---------------------------------------------------------------------------------------
// Exclusions

#[test]
fn a_job_applied_to_in_the_360_days_before_d_is_never_picked_but_one_applied_361_days_before_is() {
    let mut day = Day::new();
    for id in 1..=10 {
        day.job(job(id, Some(&format!("C{id}")), 13, Some(13101)));
    }
    day.user(user("u1", Some(13), Some(13101)))
        // The first instant of the window [midnight(D−360), midnight(D)).
        .apply("u1", 3, midnight(360))
        // The last instant before it: 361 days before D.
        .apply("u1", 4, midnight(360) - 1);
    let results = day.run();
    let picks = picks_of(&results, "u1");
    assert_eq!(sorted_ids(picks), vec![1, 2, 4, 5, 6, 7, 8, 9, 10]);
}

#[test]
fn an_application_made_on_d_itself_excludes_nothing() {
    let mut day = Day::new();
    for id in 1..=4 {
        day.job(job(id, Some(&format!("C{id}")), 13, Some(13101)));
    }
    day.user(user("u1", Some(13), Some(13101)))
        .apply("u1", 2, midnight(0) + 2 * HOUR);
    let results = day.run();
    assert_eq!(sorted_ids(picks_of(&results, "u1")), vec![1, 2, 3, 4]);
}

#[test]
fn a_company_applied_to_within_14_days_is_excluded_in_every_tier_and_one_applied_15_days_before_is_not()
 {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)))
        // Applications to jobs no longer in the feed, naming their company in the snapshot.
        .action(Action {
            user: "u1".into(),
            job_id: 900,
            kind: Some(ActionType::Applied),
            at: midnight(14),
            endcl_cd: Some("C9".into()),
            ..Action::default()
        })
        .action(Action {
            user: "u1".into(),
            job_id: 901,
            kind: Some(ActionType::Applied),
            at: midnight(14) - 1,
            endcl_cd: Some("C8".into()),
            ..Action::default()
        });
    // C9 has a job in every tier of every section, each worth picking: the user's city,
    // prefecture, region, elsewhere, with daily pay (high_income) and new.
    day.job(with_fee(job(1, Some("C9"), 13, Some(13101)), 5000))
        .job(with_fee(job(2, Some("C9"), 13, Some(13201)), 5000))
        .job(with_fee(job(3, Some("C9"), 14, Some(14101)), 5000))
        .job(with_title(job(4, Some("C9"), 27, Some(27102)), "日払いOK"))
        .job(JobFields {
            start_at: Some(morning(1)),
            ..job(5, Some("C9"), 27, Some(27102))
        })
        .job(job(11, Some("C8"), 13, Some(13101)))
        .job(job(12, Some("C8"), 27, Some(27102)));
    for id in 20..=25 {
        day.job(job(id, Some(&format!("F{id}")), 13, Some(13101)));
    }
    let results = day.run();
    let picks = picks_of(&results, "u1");
    assert_eq!(sorted_ids(picks), vec![11, 12, 20, 21, 22, 23, 24, 25]);
}

#[test]
fn a_job_picked_on_both_d_minus_1_and_d_minus_2_is_not_picked_but_one_picked_only_on_d_minus_1_is()
{
    let mut day = Day::new();
    for id in 1..=6 {
        day.job(job(id, Some(&format!("C{id}")), 13, Some(13101)));
    }
    day.user(user("u1", Some(13), Some(13101)));
    day.previous
        .insert("u1".into(), (vec![1, 2, 5], vec![1, 3, 6]));
    // Another user's previous picks say nothing about u1.
    day.user(user("u2", Some(13), Some(13101)));
    day.previous.insert("u2".into(), (vec![4], vec![4]));
    let results = day.run();
    assert_eq!(sorted_ids(picks_of(&results, "u1")), vec![2, 3, 4, 5, 6]);
    assert_eq!(sorted_ids(picks_of(&results, "u2")), vec![1, 2, 3, 5, 6]);
}

// ---------------------------------------------------------------------------------------
// The company cap

#[test]
fn no_email_has_more_than_3_jobs_of_one_company_counted_across_all_sections() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101))).sections(&[
        (SectionKind::Editorial, 2),
        (SectionKind::Regional, 2),
        (SectionKind::New, 2),
    ]);
    // C1 has the two best editorial jobs (in the user's city, top fee) …
    day.job(with_fee(job(1, Some("C1"), 13, Some(13101)), 5000))
        .job(with_fee(job(2, Some("C1"), 13, Some(13201)), 5000))
        // … the two best regional ones …
        .job(with_fee(job(3, Some("C1"), 13, Some(13201)), 4000))
        .job(with_fee(job(4, Some("C1"), 13, Some(13201)), 4000))
        // … and the best new one.
        .job(JobFields {
            start_at: Some(morning(1)),
            ..with_fee(job(5, Some("C1"), 13, Some(13201)), 3000)
        })
        .job(job(10, None, 13, Some(13201)))
        .job(job(11, None, 13, Some(13201)))
        .job(JobFields {
            start_at: Some(morning(1)),
            ..job(12, None, 13, Some(13201))
        })
        .job(JobFields {
            start_at: Some(morning(2)),
            ..with_fee(job(13, None, 13, Some(13201)), 900)
        });
    let results = day.run();
    let picks = picks_of(&results, "u1");
    assert_eq!(ids(&in_section(picks, EDITORIAL)), vec![1, 2]);
    // Job 3 is C1's third pick; job 4 is over the cap and skipped.
    assert_eq!(ids(&in_section(picks, REGIONAL)), vec![3, 10]);
    // Job 5 (C1, the best new job) is over the cap and skipped.
    assert_eq!(ids(&in_section(picks, NEW)), vec![12, 13]);
}

#[test]
fn jobs_without_a_company_code_are_not_capped() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)));
    for id in 1..=12 {
        day.job(with_fee(job(id, None, 13, Some(13101)), 5000));
    }
    for id in 20..=25 {
        day.job(job(id, Some("C1"), 13, Some(13101)));
    }
    let results = day.run();
    let picks = picks_of(&results, "u1");
    let expected: Vec<u64> = (1..=12).chain(20..=22).collect();
    assert_eq!(sorted_ids(picks), expected);
}

// ---------------------------------------------------------------------------------------
// Tier order of each section

#[test]
fn regional_takes_the_users_prefecture_then_its_region_then_any_job_best_first_within_a_tier() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)))
        .sections(&[(SectionKind::Regional, 6)]);
    day.job(with_fee(job(1, Some("C1"), 13, Some(13201)), 600))
        .job(with_fee(job(2, Some("C2"), 13, Some(13101)), 700))
        .job(with_fee(job(3, Some("C3"), 14, Some(14101)), 800))
        .job(with_fee(job(4, Some("C4"), 14, Some(14101)), 900))
        .job(with_fee(job(5, Some("C5"), 27, Some(27102)), 5000))
        .job(with_fee(job(6, Some("C6"), 27, Some(27102)), 5000))
        .job(with_fee(job(7, Some("C7"), 27, Some(27102)), 4000));
    let results = day.run();
    assert_eq!(
        ids_and_tiers(picks_of(&results, "u1")),
        vec![
            (2, PREFECTURE),
            (1, PREFECTURE),
            (4, REGION),
            (3, REGION),
            (5, ALL),
            (6, ALL)
        ]
    );
}

#[test]
fn nearby_takes_the_users_city_and_adjacent_cities_then_prefecture_then_region_then_any_job() {
    let mut day = Day::new();
    day.user(user("u1", None, Some(13101)))
        .sections(&[(SectionKind::Nearby, 7)]);
    day.job(with_fee(job(1, Some("C1"), 13, Some(13101)), 600))
        .job(with_fee(job(2, Some("C2"), 13, Some(13102)), 700))
        .job(with_fee(job(3, Some("C3"), 13, Some(13201)), 900))
        .job(with_fee(job(4, Some("C4"), 14, Some(14101)), 1000))
        .job(with_fee(job(5, Some("C5"), 27, Some(27102)), 5000))
        .job(with_fee(job(6, Some("C6"), 27, Some(27102)), 5000))
        .job(with_fee(job(7, Some("C7"), 13, Some(13201)), 800));
    let results = day.run();
    // Preconditions of the built-in geography: 中央区 (13102) is within 10 km of
    // 千代田区 (13101); 八王子市 (13201) and 横浜市鶴見区 (14101) are not.
    let adjacent = &results.geography.adjacent[&13101];
    assert!(adjacent.contains(&13102), "{adjacent:?}");
    assert!(!adjacent.contains(&13201) && !adjacent.contains(&14101));
    assert_eq!(
        ids_and_tiers(picks_of(&results, "u1")),
        vec![
            (2, CITY),
            (1, CITY),
            (3, PREFECTURE),
            (7, PREFECTURE),
            (4, REGION),
            (5, ALL),
            (6, ALL)
        ],
        "the user's prefecture comes from the city master"
    );
}

#[test]
fn a_user_with_a_prefecture_but_no_city_skips_only_the_city_tier() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), None))
        .sections(&[(SectionKind::Nearby, 4)]);
    day.job(with_fee(job(1, Some("C1"), 13, Some(13101)), 600))
        .job(with_fee(job(2, Some("C2"), 13, Some(13201)), 700))
        .job(with_fee(job(3, Some("C3"), 14, Some(14101)), 5000))
        .job(with_fee(job(4, Some("C4"), 27, Some(27102)), 5000));
    let results = day.run();
    assert_eq!(
        ids_and_tiers(picks_of(&results, "u1")),
        vec![(2, PREFECTURE), (1, PREFECTURE), (3, REGION), (4, ALL)]
    );
}

#[test]
fn high_income_takes_high_wage_or_daily_pay_jobs_in_prefecture_region_anywhere_then_any_job() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)))
        .sections(&[(SectionKind::HighIncome, 6)]);
    day.job(with_title(
        with_fee(job(1, Some("C1"), 13, Some(13201)), 600),
        "日払いOK ホールスタッフ",
    ))
    .job(with_title(
        with_fee(job(2, Some("C2"), 14, Some(14101)), 2000),
        "週払い可 倉庫作業",
    ))
    // 3000 yen/h against a nationwide mean of (8 × 1200 + 3000) / 9 = 1400: ≥ 1.2 × 1400.
    .job(JobFields {
        min_salary: Some(3000),
        ..with_fee(job(3, Some("C3"), 27, Some(27102)), 700)
    })
    .job(with_title(
        with_fee(job(4, Some("C4"), 27, Some(27102)), 800),
        "日払い",
    ));
    for id in 5..=9 {
        day.job(job(id, Some(&format!("C{id}")), 13, Some(13101)));
    }
    let results = day.run();
    let scores = results.scores.as_ref().unwrap();
    assert!(
        (scores.area.nationwide.mean - 1400.0).abs() < 1e-9,
        "{:?}",
        scores.area
    );
    assert_eq!(
        ids_and_tiers(picks_of(&results, "u1")),
        vec![
            (1, PREFECTURE),
            (2, REGION),
            (3, ANYWHERE),
            (4, ANYWHERE),
            // Jobs 5..9 score alike: the smaller job id first.
            (5, ALL),
            (6, ALL)
        ]
    );
}

#[test]
fn new_takes_jobs_started_in_the_7_days_before_d_in_prefecture_region_anywhere_then_any_job() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)))
        .sections(&[(SectionKind::New, 6)]);
    day.job(JobFields {
        // The first instant of the window: new.
        start_at: Some(midnight(7)),
        ..with_fee(job(1, Some("C1"), 13, Some(13201)), 600)
    })
    .job(JobFields {
        start_at: Some(morning(1)),
        ..with_fee(job(2, Some("C2"), 14, Some(14101)), 900)
    })
    .job(JobFields {
        // Started on D itself: new, and eligible.
        start_at: Some(morning(0)),
        ..with_fee(job(3, Some("C3"), 27, Some(27102)), 700)
    })
    .job(JobFields {
        // The last instant before the window: not new.
        start_at: Some(midnight(7) - 1),
        ..with_fee(job(4, Some("C4"), 13, Some(13101)), 5000)
    })
    .job(JobFields {
        // No start: already started, never new.
        start_at: None,
        ..with_fee(job(5, Some("C5"), 13, Some(13201)), 5000)
    })
    .job(with_fee(job(6, Some("C6"), 13, Some(13101)), 1000));
    let results = day.run();
    assert_eq!(
        ids_and_tiers(picks_of(&results, "u1")),
        vec![
            (1, PREFECTURE),
            (2, REGION),
            (3, ANYWHERE),
            (4, ALL),
            (5, ALL),
            (6, ALL)
        ]
    );
}

// ---------------------------------------------------------------------------------------
// How many picks

/// 200 jobs of 20 companies over Tokyo, Kanagawa and Osaka; fees vary.
fn two_hundred_jobs(day: &mut Day) {
    let places: [(u16, u32); 6] = [
        (13, 13101),
        (13, 13102),
        (13, 13201),
        (14, 14101),
        (27, 27102),
        (27, 27127),
    ];
    for i in 0..200u64 {
        let (pref, city) = places[(i % 6) as usize];
        let mut fields = job(i + 1, Some(&format!("C{}", i % 20)), pref, Some(city));
        fields.fee = Fee::new(600 + (i * 37 % 4400) as u16);
        fields.min_salary = Some(1000 + (i * 53 % 900) as u32);
        if i % 7 == 0 {
            fields.application_name = "日払いOK 軽作業".into();
        }
        if i % 5 == 0 {
            fields.start_at = Some(morning((i % 9) as i64));
        }
        day.job(fields);
    }
}

#[test]
fn every_user_gets_40_distinct_jobs_in_sections_of_5_5_10_8_7_5_when_enough_jobs_are_eligible() {
    let mut day = Day::new();
    two_hundred_jobs(&mut day);
    day.user(user("u1", Some(13), Some(13101)))
        .user(user("u2", Some(27), None))
        .user(user("u3", None, None))
        .user(user("u4", None, None))
        .apply("u4", 17, morning(3))
        .apply("u4", 18, morning(40));
    let results = day.run();
    let jobs = day.job_columns();
    for u in ["u1", "u2", "u3", "u4"] {
        let picks = picks_of(&results, u);
        assert_eq!(picks.len(), 40, "{u}");
        assert_well_formed(picks, &jobs, &day.config);
        let sizes: Vec<usize> = [EDITORIAL, TOP5, REGIONAL, NEARBY, HIGH_INCOME, NEW]
            .iter()
            .map(|s| in_section(picks, *s).len())
            .collect();
        assert_eq!(sizes, vec![5, 5, 10, 8, 7, 5], "{u}");
    }
}

#[test]
fn an_email_has_as_many_jobs_as_the_company_cap_allows_when_fewer_than_40_can_be_picked() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)));
    for id in 1..=12 {
        let company = if id % 2 == 0 { "A" } else { "B" };
        day.job(job(id, Some(company), 13, Some(13101 + (id as u32 % 3))));
    }
    // Ineligible jobs of other companies add nothing.
    for id in 20..=25 {
        day.job(with_fee(
            job(id, Some(&format!("X{id}")), 13, Some(13101)),
            500,
        ));
    }
    let results = day.run();
    let picks = picks_of(&results, "u1");
    assert_eq!(picks.len(), 6, "{picks:?}");
    assert_well_formed(picks, &day.job_columns(), &day.config);
}

// ---------------------------------------------------------------------------------------
// Users without location or history

#[test]
fn a_user_of_unknown_location_gets_picks_from_the_all_and_anywhere_tiers_with_location_weight_1() {
    let mut day = Day::new();
    two_hundred_jobs(&mut day);
    day.user(user("u1", None, None));
    // Someone else's recent applications count in the editorial score.
    for (n, job_id) in [(3, 10), (1, 11), (70, 12)] {
        for k in 0..n {
            day.apply(&format!("other{k}"), job_id, morning(2));
        }
    }
    let results = day.run();
    let jobs = day.job_columns();
    let picks = picks_of(&results, "u1");
    assert_eq!(picks.len(), 40);
    let recent: HashMap<u64, f64> = HashMap::from([(10, 3.0), (11, 1.0), (12, 70.0)]);
    for p in picks {
        match p.section {
            HIGH_INCOME | NEW => assert!(matches!(p.tier, ANYWHERE | ALL), "{p:?}"),
            _ => assert_eq!(p.tier, ALL, "{p:?}"),
        }
        let row = jobs.position(JobId::new(p.job_id)).unwrap();
        let applications = recent.get(&p.job_id).copied().unwrap_or(0.0);
        let expected =
            0.5 * fee_score(f64::from(jobs.fee[row])) + 0.5 * (2.0 * applications).min(100.0);
        assert_close(
            p.editorial,
            expected,
            &format!("editorial of job {}", p.job_id),
        );
    }
    // The editorial section: fee 5000 is never reached here, so job 12 (70 recent
    // applications: 0.5 × fee score + 50) leads.
    assert_eq!(in_section(picks, EDITORIAL)[0].job_id, 12);
}

#[test]
fn a_user_without_applications_has_personalised_score_50_for_every_pick() {
    let mut day = Day::new();
    two_hundred_jobs(&mut day);
    day.user(user("u1", Some(13), Some(13101)))
        .user(user("u2", Some(13), Some(13101)))
        .apply("u2", 1, morning(20))
        .apply("u2", 2, morning(30));
    let results = day.run();
    let picks = picks_of(&results, "u1");
    assert_eq!(picks.len(), 40);
    for p in picks {
        assert_eq!(p.personalized, 50.0, "{p:?}");
    }
    // A user with applications is scored on them.
    assert!(
        picks_of(&results, "u2")
            .iter()
            .any(|p| p.personalized != 50.0)
    );
}

// ---------------------------------------------------------------------------------------
// Eligibility and who gets picks

#[test]
fn ineligible_jobs_are_never_picked() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)));
    let base = |id| with_fee(job(id, Some(&format!("C{id}")), 13, Some(13101)), 5000);
    // Ineligible, each for one reason.
    day.job(JobFields {
        end_at: Some(midnight(0) - 1),
        ..base(1)
    })
    .job(with_fee(base(2), 500))
    .job(JobFields {
        employment_type_cd: Some(2),
        ..base(3)
    })
    .job(JobFields {
        start_at: Some(midnight(-1)),
        ..base(4)
    })
    .job(JobFields {
        del_flg: true,
        ..base(5)
    })
    .job(JobFields {
        is_delivery: false,
        ..base(6)
    })
    .job(JobFields {
        fee: None,
        ..base(7)
    })
    .job(JobFields {
        employment_type_cd: None,
        ..base(8)
    });
    // Eligible, at the edges.
    day.job(JobFields {
        end_at: Some(midnight(0)),
        ..base(11)
    })
    .job(with_fee(base(12), 501))
    .job(JobFields {
        employment_type_cd: Some(3),
        ..base(13)
    })
    .job(JobFields {
        employment_type_cd: Some(6),
        ..base(14)
    })
    .job(JobFields {
        employment_type_cd: Some(8),
        ..base(15)
    })
    .job(JobFields {
        start_at: Some(midnight(-1) - 1),
        ..base(16)
    })
    .job(JobFields {
        start_at: None,
        end_at: None,
        ..base(17)
    });
    let results = day.run();
    let jobs = day.job_columns();
    let scores = results.scores.as_ref().unwrap();
    let eligible: Vec<u64> = (0..jobs.len())
        .filter(|&i| scores.eligible[i])
        .map(|i| jobs.job_id[i])
        .collect();
    assert_eq!(eligible, vec![11, 12, 13, 14, 15, 16, 17]);
    assert_eq!(
        sorted_ids(picks_of(&results, "u1")),
        vec![11, 12, 13, 14, 15, 16, 17]
    );
}

#[test]
fn inactive_or_unsubscribed_users_get_no_picks() {
    let mut day = Day::new();
    two_hundred_jobs(&mut day);
    day.user(user("u1", Some(13), Some(13101)))
        .user(User {
            is_active: false,
            ..user("u2", Some(13), Some(13101))
        })
        .user(User {
            subscribed: false,
            ..user("u3", Some(13), Some(13101))
        });
    let results = day.run();
    assert_eq!(picks_of(&results, "u1").len(), 40);
    assert!(!has_picks(&results, "u2"));
    assert!(!has_picks(&results, "u3"));
}

#[test]
fn the_same_inputs_give_identical_picks_whatever_the_order_of_jobs_and_users() {
    let mut day = Day::new();
    two_hundred_jobs(&mut day);
    day.user(user("u1", Some(13), Some(13101)))
        .user(user("u2", Some(14), None))
        .user(user("u3", None, None))
        .apply("u3", 5, morning(2))
        .apply("u3", 6, morning(100))
        .apply("u1", 7, morning(50));
    day.previous.insert("u1".into(), (vec![8, 9], vec![9]));
    let first = day.run().picks.unwrap();
    let second = day.run().picks.unwrap();
    assert_eq!(first, second);
    day.jobs.reverse();
    day.users.reverse();
    day.actions.reverse();
    let reordered = day.run().picks.unwrap();
    assert_eq!(first, reordered);
}

// ---------------------------------------------------------------------------------------
// Formulas, through the same API

#[test]
fn the_personalised_score_is_the_weighted_mean_of_the_components_the_profile_has() {
    let mut day = Day::new();
    day.user(user("u1", None, None));
    // Two applications, 20 and 30 days before D, to jobs no longer in the feed:
    // 13 / 13101 / occupation 100 / employment 1 / 1200 yen per hour / company C9.
    for (job_id, days) in [(900, 20), (901, 30)] {
        day.action(Action {
            user: "u1".into(),
            job_id,
            kind: Some(ActionType::Applied),
            at: morning(days),
            endcl_cd: Some("C9".into()),
            pref_cd: 13,
            city_cd: 13101,
            occupation_cd1: 100,
            employment_type_cd: 1,
            salary_type_cd: 1,
            min_salary: 1200,
        });
    }
    // Every component 100 but the company (never applied to: 50).
    day.job(job(1, Some("C1"), 13, Some(13101)))
        // Prefecture 100, city 20, occupation 20, employment 20, salary 60
        // (|1500 − 1200| / 1200 = 0.25), company 50.
        .job(JobFields {
            occupation_cd1: Some(200),
            employment_type_cd: Some(3),
            min_salary: Some(1500),
            ..job(2, Some("C2"), 13, Some(13201))
        })
        // Prefecture 20, city 20, occupation 100, employment 100, salary 80 (1400:
        // d = 0.1666…), company 50; a monthly wage of 224,000 / 160 = 1400.
        .job(JobFields {
            salary_type_cd: Some(4),
            min_salary: Some(224_000),
            ..job(3, Some("C3"), 27, Some(27102))
        });
    let results = day.run();
    let picks = picks_of(&results, "u1");
    let personalised: HashMap<u64, f64> =
        picks.iter().map(|p| (p.job_id, p.personalized)).collect();
    let expected = [
        (
            1,
            (20.0 * 100.0
                + 15.0 * 100.0
                + 20.0 * 100.0
                + 15.0 * 100.0
                + 15.0 * 100.0
                + 15.0 * 50.0)
                / 100.0,
        ),
        (
            2,
            (20.0 * 100.0 + 15.0 * 20.0 + 20.0 * 20.0 + 15.0 * 20.0 + 15.0 * 60.0 + 15.0 * 50.0)
                / 100.0,
        ),
        (
            3,
            (20.0 * 20.0 + 15.0 * 20.0 + 20.0 * 100.0 + 15.0 * 100.0 + 15.0 * 80.0 + 15.0 * 50.0)
                / 100.0,
        ),
    ];
    assert_close(expected[0].1, 92.5, "hand computation");
    for (job_id, value) in expected {
        assert_close(
            personalised[&job_id],
            value,
            &format!("personalised of job {job_id}"),
        );
    }
    // total = 0.5 × personalised + 0.3 × basic + 0.2 × SEO
    for p in picks {
        assert_close(
            p.total,
            0.5 * p.personalized + 0.3 * p.basic + 0.2 * p.seo,
            &format!("total of job {}", p.job_id),
        );
    }
}

#[test]
fn the_editorial_score_is_fee_and_recent_applications_weighted_by_the_users_location() {
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)))
        .sections(&[(SectionKind::Editorial, 5)]);
    day.job(with_fee(job(1, Some("C1"), 13, Some(13101)), 1400)) // fee score 20, own city
        .job(with_fee(job(2, Some("C2"), 13, Some(13102)), 2300)) // 40, adjacent city
        .job(with_fee(job(3, Some("C3"), 13, Some(13201)), 5000)) // 100, prefecture
        .job(with_fee(job(4, Some("C4"), 27, Some(27102)), 3200)) // 60, elsewhere
        .job(with_fee(job(5, Some("C5"), 14, Some(14101)), 1400)) // 20, elsewhere
        .job(with_fee(job(6, Some("C6"), 13, None), 1400)); // 20, prefecture, no city
    // Job 1: 3 applications in the 30 days before D.
    for k in 0..3 {
        day.apply(&format!("a{k}"), 1, morning(5));
    }
    // Job 2: only the first counts: the window's first instant; not the instant before it,
    // not a click, not an application made on D itself.
    day.apply("b0", 2, midnight(30))
        .apply("b1", 2, midnight(30) - 1)
        .action(Action {
            user: "b2".into(),
            job_id: 2,
            kind: Some(ActionType::Click),
            at: morning(3),
            ..Action::default()
        })
        .apply("b3", 2, midnight(0) + HOUR);
    // Job 3: 60 applications: 2 × 60 is capped at 100.
    for k in 0..60 {
        day.apply(&format!("c{k}"), 3, morning(10));
    }
    let results = day.run();
    let picks = picks_of(&results, "u1");
    let expected: [(u64, f64); 5] = [
        (3, (0.5 * 100.0 + 0.5 * 100.0) * 0.5),
        (2, (0.5 * 40.0 + 0.5 * 2.0) * 0.7),
        (1, (0.5 * 20.0 + 0.5 * 6.0) * 1.0),
        (4, (0.5 * 60.0) * 0.3),
        (6, (0.5 * 20.0) * 0.5),
    ];
    assert_eq!(
        ids(picks),
        expected.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        "ranked by editorial score: {picks:?}"
    );
    for (p, (job_id, value)) in picks.iter().zip(expected) {
        assert_close(p.editorial, value, &format!("editorial of job {job_id}"));
    }
}

// ---------------------------------------------------------------------------------------
// A reference: SPEC §4 written plainly (a full sort per tier), from the day's inputs and the
// job scores and user profiles the run computed.

/// What is excluded for `user` by their applications: the job ids applied to in the 360
/// days before D, and the companies applied to in the 14 days before D.
fn exclusions(day: &Day, jobs: &JobColumns, user: &str) -> (HashSet<u64>, HashSet<String>) {
    let mut applied = HashSet::new();
    let mut companies = HashSet::new();
    for a in day
        .actions
        .iter()
        .filter(|a| a.user == user && a.kind == Some(ActionType::Applied))
    {
        if a.at >= midnight(day.config.history_days) && a.at < midnight(0) {
            applied.insert(a.job_id);
        }
        let company = a.endcl_cd.clone().unwrap_or_else(|| {
            jobs.position(JobId::new(a.job_id))
                .map_or(String::new(), |row| jobs.endcl_cd.get(row).to_owned())
        });
        if a.at >= midnight(day.config.recent_company_days)
            && a.at < midnight(0)
            && !company.is_empty()
        {
            companies.insert(company);
        }
    }
    (applied, companies)
}

fn share_points(count: u32, total: u32) -> f64 {
    if count == 0 || total == 0 {
        return 20.0;
    }
    let share = f64::from(count) / f64::from(total);
    if share >= 0.5 {
        100.0
    } else if share >= 0.3 {
        80.0
    } else if share >= 0.1 {
        60.0
    } else {
        40.0
    }
}

fn round6(x: f64) -> i64 {
    (x * 1e6).round() as i64
}

/// One pick of the reference: (section, rank, job id, tier, personalised, total, editorial).
type RefPick = (u8, u8, u64, u8, f64, f64, f64);

/// The picks of user number `u` of `day`, computed plainly.
fn reference_picks(day: &Day, results: &DayResults, u: usize) -> Vec<RefPick> {
    let jobs = day.job_columns();
    let scores = results.scores.as_ref().unwrap();
    let profile = &results.profiles[u];
    let geography = &results.geography;
    let user_id = day.users[u].user_id.as_str();
    let (applied, recent_companies) = exclusions(day, &jobs, user_id);
    let (day1, day2) = day.previous.get(user_id).cloned().unwrap_or_default();
    let pref = profile.location.pref_cd;
    let city = profile.location.city_cd;
    let region = pref.and_then(|p| geography.region_of(p));
    let adjacent: Vec<u32> = city
        .and_then(|c| geography.adjacent.get(&c).cloned())
        .unwrap_or_default();
    let known = pref.is_some() || city.is_some();
    let new_start = midnight(day.config.new_days);

    let personalised = |row: usize| -> f64 {
        if profile.n_applications == 0 {
            return 50.0;
        }
        fn component<T: Copy + PartialEq>(counts: &[(T, u32)], value: T) -> Option<f64> {
            if counts.is_empty() {
                return None;
            }
            let total = counts.iter().map(|(_, n)| n).sum();
            let count = counts
                .iter()
                .find(|(v, _)| *v == value)
                .map_or(0, |(_, n)| *n);
            Some(share_points(count, total))
        }
        let wage = scores.wage[row];
        let salary = profile.mean_wage.map(|mean| {
            if wage.is_nan() {
                return 30.0;
            }
            let d = (wage - mean).abs() / mean;
            if d <= 0.1 {
                100.0
            } else if d <= 0.2 {
                80.0
            } else if d <= 0.3 {
                60.0
            } else {
                30.0
            }
        });
        let parts = [
            (20.0, component(&profile.prefectures, jobs.pref_cd[row])),
            (15.0, component(&profile.cities, jobs.city_cd[row])),
            (
                20.0,
                component(&profile.occupations, jobs.occupation_cd1[row]),
            ),
            (
                15.0,
                component(&profile.employment_types, jobs.employment_type_cd[row]),
            ),
            (15.0, salary),
            // Jobs of companies applied to within 14 days are excluded: 50 for the rest.
            (15.0, (!profile.companies.is_empty()).then_some(50.0)),
        ];
        let weights: f64 = parts
            .iter()
            .filter(|(_, s)| s.is_some())
            .map(|(w, _)| w)
            .sum();
        let sum: f64 = parts.iter().filter_map(|(w, s)| s.map(|s| w * s)).sum();
        if weights == 0.0 { 50.0 } else { sum / weights }
    };
    let weight = |row: usize| -> f64 {
        let (job_pref, job_city) = (jobs.pref_cd[row], jobs.city_cd[row]);
        if !known || (job_city != 0 && city == Some(job_city)) {
            1.0
        } else if job_city != 0 && adjacent.contains(&job_city) {
            0.7
        } else if job_pref != 0 && pref == Some(job_pref) {
            0.5
        } else {
            0.3
        }
    };
    struct Candidate {
        row: usize,
        job_id: u64,
        company: String,
        personalised: f64,
        total: f64,
        editorial: f64,
    }
    let candidates: Vec<Candidate> = (0..jobs.len())
        .filter(|&row| scores.eligible[row])
        .filter(|&row| {
            let id = jobs.job_id[row];
            let picked_twice = day1.contains(&id) && day2.contains(&id);
            !(applied.contains(&id)
                || recent_companies.contains(jobs.endcl_cd.get(row))
                || picked_twice)
        })
        .map(|row| {
            let personalised = personalised(row);
            let recent = results
                .stats
                .recent_applications
                .get(&jobs.job_id[row])
                .copied()
                .unwrap_or(0);
            let editorial_base =
                0.5 * scores.fee_score[row] + 0.5 * (2.0 * f64::from(recent)).min(100.0);
            Candidate {
                row,
                job_id: jobs.job_id[row],
                company: jobs.endcl_cd.get(row).to_owned(),
                personalised,
                total: 0.5 * personalised + (0.3 * scores.basic[row] + 0.2 * scores.seo[row]),
                editorial: editorial_base * weight(row),
            }
        })
        .collect();

    let mut chosen: HashSet<u64> = HashSet::new();
    let mut per_company: HashMap<String, usize> = HashMap::new();
    let mut picks = Vec::new();
    for spec in &day.config.sections {
        let in_tier = |c: &Candidate, tier: u8| -> Option<bool> {
            let row = c.row;
            Some(match tier {
                CITY => {
                    let own = city?;
                    jobs.city_cd[row] != 0
                        && (jobs.city_cd[row] == own || adjacent.contains(&jobs.city_cd[row]))
                }
                PREFECTURE => jobs.pref_cd[row] == pref?,
                REGION => geography.region_of(jobs.pref_cd[row]) == Some(region?),
                _ => true,
            })
        };
        let high_income = |row: usize| {
            scores.has_need(row, &day.config, mailscore::scoring::HIGH_WAGE)
                || scores.has_need(row, &day.config, mailscore::scoring::DAILY_PAY)
        };
        let is_new = |row: usize| jobs.start_at[row] != i64::MIN && jobs.start_at[row] >= new_start;
        let (tiers, filter): (&[u8], &dyn Fn(usize) -> bool) = match spec.kind {
            SectionKind::Editorial | SectionKind::Top5 => (&[ALL], &|_| true),
            SectionKind::Regional => (&[PREFECTURE, REGION, ALL], &|_| true),
            SectionKind::Nearby => (&[CITY, PREFECTURE, REGION, ALL], &|_| true),
            SectionKind::HighIncome => (&[PREFECTURE, REGION, ANYWHERE, ALL], &high_income),
            SectionKind::New => (&[PREFECTURE, REGION, ANYWHERE, ALL], &is_new),
        };
        let key = |c: &Candidate| -> (i64, i64) {
            match spec.kind {
                SectionKind::Editorial => (round6(c.editorial), round6(c.total)),
                SectionKind::Top5 => (round6(c.personalised), round6(c.total)),
                _ => (round6(c.total), 0),
            }
        };
        let mut taken = 0u8;
        for &tier in tiers {
            let mut tier_candidates: Vec<&Candidate> = candidates
                .iter()
                .filter(|c| in_tier(c, tier) == Some(true))
                .filter(|c| tier == ALL || filter(c.row))
                .collect();
            tier_candidates.sort_by(|a, b| key(b).cmp(&key(a)).then(a.job_id.cmp(&b.job_id)));
            for c in tier_candidates {
                if usize::from(taken) == spec.count {
                    break;
                }
                if chosen.contains(&c.job_id) {
                    continue;
                }
                if !c.company.is_empty()
                    && per_company.get(&c.company).copied().unwrap_or(0) >= day.config.company_cap
                {
                    continue;
                }
                chosen.insert(c.job_id);
                if !c.company.is_empty() {
                    *per_company.entry(c.company.clone()).or_default() += 1;
                }
                taken += 1;
                picks.push((
                    spec.kind.code(),
                    taken,
                    c.job_id,
                    tier,
                    c.personalised,
                    c.total,
                    c.editorial,
                ));
            }
        }
    }
    picks
}

/// The run's picks of user number `u` equal the reference's, scores to 6 decimals.
fn assert_matches_reference(day: &Day, results: &DayResults, u: usize) {
    let user_id = day.users[u].user_id.as_str();
    let got: Vec<(u8, u8, u64, u8)> = picks_of(results, user_id)
        .iter()
        .map(|p| (p.section, p.rank, p.job_id, p.tier))
        .collect();
    let expected = reference_picks(day, results, u);
    let expected_ids: Vec<(u8, u8, u64, u8)> = expected
        .iter()
        .map(|&(section, rank, job_id, tier, ..)| (section, rank, job_id, tier))
        .collect();
    assert_eq!(got, expected_ids, "{user_id}: (section, rank, job, tier)");
    for (p, e) in picks_of(results, user_id).iter().zip(&expected) {
        assert_close(p.personalized, e.4, "personalised");
        assert_close(p.total, e.5, "total");
        assert_close(p.editorial, e.6, "editorial");
    }
}

#[test]
fn the_picks_equal_a_plain_full_sort_reference_on_a_day_of_200_jobs() {
    let mut day = Day::new();
    two_hundred_jobs(&mut day);
    day.user(user("u1", Some(13), Some(13101)))
        .user(user("u2", Some(27), None))
        .user(user("u3", None, None))
        .user(user("u4", None, None))
        .apply("u4", 17, morning(3))
        .apply("u4", 18, morning(40))
        .apply("u4", 25, morning(100))
        .apply("u1", 31, morning(200));
    for k in 0..9 {
        day.apply(&format!("x{k}"), 40 + k, morning(k as i64 + 1));
    }
    day.previous
        .insert("u1".into(), (vec![1, 2, 3], vec![2, 3, 4]));
    let results = day.run();
    for u in 0..day.users.len() {
        assert_matches_reference(&day, &results, u);
    }
}

#[test]
fn the_company_cap_skips_past_any_number_of_better_jobs_of_a_capped_company() {
    // 300 jobs of one company outscore everything else in every section and every tier;
    // the email still fills up with 37 others.
    let mut day = Day::new();
    day.user(user("u1", Some(13), Some(13101)));
    for id in 1..=300u64 {
        let mut fields = with_fee(job(id, Some("BIG"), 13, Some(13101)), 5000);
        fields.application_name = "日払いOK".into();
        fields.start_at = Some(morning(1));
        day.job(fields);
    }
    let places: [(u16, u32); 4] = [(13, 13102), (13, 13201), (14, 14101), (27, 27102)];
    for i in 0..60u64 {
        let (pref, city) = places[(i % 4) as usize];
        let mut fields = with_fee(
            job(1000 + i, Some(&format!("S{i}")), pref, Some(city)),
            600 + (i * 71 % 3000) as u16,
        );
        if i % 3 == 0 {
            fields.application_name = "週払い".into();
        }
        if i % 4 == 1 {
            fields.start_at = Some(morning(2));
        }
        day.job(fields);
    }
    let results = day.run();
    let picks = picks_of(&results, "u1");
    assert_eq!(picks.len(), 40);
    assert_eq!(picks.iter().filter(|p| p.job_id <= 300).count(), 3);
    assert_well_formed(picks, &day.job_columns(), &day.config);
    assert_matches_reference(&day, &results, 0);
}

// ---------------------------------------------------------------------------------------
// Properties over random small days

const CITIES: [(u16, &[u32]); 3] = [
    (13, &[13101, 13102, 13104, 13201]),
    (14, &[14101, 14103]),
    (27, &[27102, 27127]),
];
const TITLES: [&str; 4] = [
    "ホールスタッフ",
    "日払いOK 軽作業",
    "短期 イベント",
    "週払い 倉庫",
];

#[derive(Debug, Clone)]
struct RandomJob {
    place: (usize, usize),
    /// Index into 8 companies; 8 means no company.
    company: u8,
    fee: u16,
    employment_type: u16,
    wage: u32,
    title: usize,
    start_days_before: i64,
    end_days_before: Option<i64>,
}

#[derive(Debug, Clone)]
struct RandomUser {
    /// 0: unknown, 1: prefecture only, 2: city.
    location: u8,
    place: (usize, usize),
    active: bool,
    subscribed: bool,
    /// (job index, days before D: 0 is D itself, hour).
    applications: Vec<(usize, i64, i64)>,
    previous: (Vec<usize>, Vec<usize>),
}

fn random_job() -> impl Strategy<Value = RandomJob> {
    (
        (0..3usize, 0..4usize),
        0..9u8,
        0..=5000u16,
        prop::sample::select(vec![1u16, 2, 3, 4, 6, 8]),
        900..3200u32,
        0..TITLES.len(),
        -2..20i64,
        prop::option::of(-30..3i64),
    )
        .prop_map(
            |(place, company, fee, employment_type, wage, title, start, end)| RandomJob {
                place,
                company,
                fee,
                employment_type,
                wage,
                title,
                start_days_before: start,
                end_days_before: end,
            },
        )
}

fn random_user() -> impl Strategy<Value = RandomUser> {
    (
        0..3u8,
        (0..3usize, 0..4usize),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        prop::collection::vec((0..1000usize, 0..400i64, 0..24i64), 0..6),
        (
            prop::collection::vec(0..1000usize, 0..8),
            prop::collection::vec(0..1000usize, 0..8),
        ),
    )
        .prop_map(
            |(location, place, active, subscribed, applications, previous)| RandomUser {
                location,
                place,
                active,
                subscribed,
                applications,
                previous,
            },
        )
}

fn city_of((pref, city): (usize, usize)) -> (u16, u32) {
    let (code, cities) = CITIES[pref];
    (code, cities[city % cities.len()])
}

fn random_job_id(index: usize, n: usize) -> u64 {
    1000 + 3 * (index % n) as u64
}

/// A day of random jobs and users; applications and previous picks name jobs by index.
fn random_day(random_jobs: &[RandomJob], random_users: &[RandomUser]) -> Day {
    let mut day = Day::new();
    let job_id = |index: usize| random_job_id(index, random_jobs.len());
    for (i, r) in random_jobs.iter().enumerate() {
        let (pref, city) = city_of(r.place);
        let company = (r.company < 8).then(|| format!("C{}", r.company));
        day.job(JobFields {
            fee: Fee::new(r.fee),
            employment_type_cd: Some(r.employment_type),
            min_salary: Some(r.wage),
            application_name: TITLES[r.title].to_owned(),
            start_at: Some(morning(r.start_days_before)),
            end_at: r.end_days_before.map(morning),
            ..job(job_id(i), company.as_deref(), pref, Some(city))
        });
    }
    for (u, r) in random_users.iter().enumerate() {
        let id = format!("u{u}");
        let (pref, city) = city_of(r.place);
        let mut fields = user(&id, None, None);
        if r.location >= 1 {
            fields.pref_cd = Some(PrefCode::new(pref));
        }
        if r.location == 2 {
            fields.city_cd = Some(CityCode::new(city));
        }
        fields.is_active = r.active;
        fields.subscribed = r.subscribed;
        day.user(fields);
        for &(job, days, hour) in &r.applications {
            day.apply(&id, job_id(job), midnight(days) + hour * HOUR);
        }
        day.previous.insert(
            id,
            (
                r.previous.0.iter().map(|j| job_id(*j)).collect(),
                r.previous.1.iter().map(|j| job_id(*j)).collect(),
            ),
        );
    }
    day
}

proptest! {
    // 48 cases by default; PROPTEST_CASES=5000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_email_respects_the_exclusions_the_cap_and_the_section_sizes_and_is_as_full_as_allowed(
        random_jobs in prop::collection::vec(random_job(), 20..=120),
        random_users in prop::collection::vec(random_user(), 1..=5),
    ) {
        let day = random_day(&random_jobs, &random_users);
        let job_id = |index: usize| random_job_id(index, random_jobs.len());
        let results = day.run();
        let jobs = day.job_columns();
        let scores = results.scores.as_ref().unwrap();
        let company_of = |id: u64| jobs.endcl_cd.get(jobs.position(JobId::new(id)).unwrap()).to_owned();
        let total: usize = day.config.sections.iter().map(|s| s.count).sum();
        prop_assert_eq!(total, 40);

        for (u, r) in random_users.iter().enumerate() {
            let id = format!("u{u}");
            if !(r.active && r.subscribed) {
                prop_assert!(!has_picks(&results, &id));
                continue;
            }
            let picks = picks_of(&results, &id);
            assert_well_formed(picks, &jobs, &day.config);

            // What is excluded for this user, from the inputs.
            let mut excluded: HashSet<u64> = HashSet::new();
            let mut recent_companies: HashSet<String> = HashSet::new();
            for &(job, days, hour) in &r.applications {
                let at = midnight(days) + hour * HOUR;
                if at >= midnight(360) && at < midnight(0) {
                    excluded.insert(job_id(job));
                }
                let company = company_of(job_id(job));
                if at >= midnight(14) && at < midnight(0) && !company.is_empty() {
                    recent_companies.insert(company);
                }
            }
            let (day1, day2) = &day.previous[&id];
            excluded.extend(day1.iter().filter(|j| day2.contains(j)));

            let picked: HashSet<u64> = picks.iter().map(|p| p.job_id).collect();
            let mut per_company: HashMap<String, usize> = HashMap::new();
            for p in picks {
                let row = jobs.position(JobId::new(p.job_id)).unwrap();
                prop_assert!(scores.eligible[row], "ineligible job {} picked", p.job_id);
                prop_assert!(!excluded.contains(&p.job_id), "excluded job {} picked", p.job_id);
                let company = company_of(p.job_id);
                prop_assert!(
                    !recent_companies.contains(&company),
                    "job {} of recently applied company {} picked", p.job_id, company
                );
                if !company.is_empty() {
                    *per_company.entry(company).or_default() += 1;
                }
            }
            if picks.len() < total {
                for row in 0..jobs.len() {
                    let candidate = jobs.job_id[row];
                    let company = jobs.endcl_cd.get(row).to_owned();
                    if !scores.eligible[row]
                        || excluded.contains(&candidate)
                        || recent_companies.contains(&company)
                        || picked.contains(&candidate)
                    {
                        continue;
                    }
                    let at_cap = !company.is_empty()
                        && per_company.get(&company).copied().unwrap_or(0) >= day.config.company_cap;
                    prop_assert!(
                        at_cap,
                        "{} has {} picks, but job {} (company {:?}) was left out",
                        id, picks.len(), candidate, company
                    );
                }
            }
        }
    }

    #[test]
    fn every_email_equals_the_plain_reference(
        random_jobs in prop::collection::vec(random_job(), 20..=120),
        random_users in prop::collection::vec(random_user(), 1..=5),
    ) {
        let day = random_day(&random_jobs, &random_users);
        let results = day.run();
        for (u, r) in random_users.iter().enumerate() {
            if r.active && r.subscribed {
                assert_matches_reference(&day, &results, u);
            }
        }
    }
}
