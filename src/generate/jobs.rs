//! `jobs.csv`: the 120-column feed, its header and its rows, with the bad rows of `--dirty`.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::calendar::Calendar;
use super::calendar::{SECONDS_PER_DAY, Stamp, TOKYO_OFFSET};
use super::companies::Company;
use super::job_text::{JobText, JobWords};
use super::postings::{Job, draw_fee};
use super::records::{Digits, RecordWriter, csv_writer, finish, flag};
use super::sampling::{Every, Weighted, pick, sometimes, standard_normal};
use super::vocabulary::{FREE_FIELD_ITEMS, IMAGE_CAPTIONS, SURNAMES, WEEK_PHRASES};
use super::world::FeatureKind;
use super::world::{Category, City, World};
use super::{Feed, GenerateOptions, rng_for, stream};

pub(super) const JOB_COLUMNS: [&str; 120] = [
    "job_id",
    "endcl_cd",
    "client_cd",
    "company_name",
    "company_name_kana",
    "application_name",
    "catch_copy",
    "pref_cd",
    "city_cd",
    "area",
    "work_address",
    "work_zip",
    "latitude",
    "longitude",
    "station_name_eki",
    "traffic",
    "station_name_eki_2",
    "traffic_2",
    "occupation_cd1",
    "occupation_cd2",
    "occupation_cd3",
    "jobtype_detail",
    "employment_type_cd",
    "salary_type_cd",
    "min_salary",
    "max_salary",
    "salary",
    "salary_note",
    "fee",
    "feature_codes",
    "hours",
    "min_days_per_week",
    "min_hours_per_day",
    "shift_type",
    "work_period",
    "holiday",
    "job_contents",
    "welfare",
    "requirement",
    "transportation_fee",
    "pay_cycle",
    "trial_period",
    "dress_code",
    "recruit_count",
    "age_min",
    "age_max",
    "selection_process",
    "interview_place",
    "application_method",
    "apply_url",
    "url",
    "start_at",
    "end_at",
    "published_at",
    "created_at",
    "updated_at",
    "is_delivery",
    "del_flg",
    "is_pickup",
    "is_new",
    "is_urgent",
    "is_featured",
    "is_remote_ok",
    "is_student_ok",
    "is_senior_ok",
    "is_inexperienced_ok",
    "is_daily_pay",
    "is_short_term",
    "is_weekend_only",
    "image_url_1",
    "image_url_2",
    "image_url_3",
    "image_url_4",
    "image_url_5",
    "image_caption_1",
    "image_caption_2",
    "image_caption_3",
    "image_caption_4",
    "image_caption_5",
    "movie_url",
    "contact_name",
    "contact_phone",
    "contact_email",
    "contact_hours",
    "company_address",
    "company_zip",
    "company_url",
    "company_description",
    "company_employees",
    "company_established",
    "capital",
    "business_description",
    "posting_plan",
    "plan_start_date",
    "plan_end_date",
    "media_code",
    "campaign_code",
    "ad_group_id",
    "sort_order",
    "view_count",
    "apply_count",
    "search_keywords",
    "seo_title",
    "tags",
    "job_code",
    "internal_memo",
    "free_field_1",
    "free_field_2",
    "free_field_3",
    "free_field_4",
    "free_field_5",
    "free_field_6",
    "free_field_7",
    "free_field_8",
    "free_field_9",
    "free_field_10",
    "status",
    "approval_status",
    "last_editor",
    "source_system",
];

/// Bad values `--dirty` puts into one row of `jobs.csv`.
#[derive(Default, Clone, Copy)]
pub(super) struct JobRowFaults {
    pub(super) job_id: Option<&'static str>,
    pub(super) fee: Option<&'static str>,
    pub(super) min_salary: Option<&'static str>,
    pub(super) start_at: Option<&'static str>,
    pub(super) pref_cd: Option<&'static str>,
}

pub(super) fn write_jobs(feed: &Feed, options: &GenerateOptions, path: &Path) -> io::Result<usize> {
    let mut csv = csv_writer(path)?;
    csv.write_record(JOB_COLUMNS)?;
    let mut composer = JobComposer::default();
    let mut dirt_rng = rng_for(options.seed, stream::DIRTY_JOBS);
    let n_jobs = feed.jobs.len();
    let revisions = Every::new(n_jobs, n_jobs / 200, 50, 0.5);
    let few = |phase| Every::new(n_jobs, 5, 8, phase);
    let (empty_ids, bad_ids, bad_fees) = (few(0.1), few(0.2), few(0.3));
    let (bad_salaries, bad_starts, bad_prefs) = (few(0.4), few(0.6), few(0.7));
    let mut rows = 0;
    for (job_idx, job) in feed.jobs.iter().enumerate() {
        let mut faults = JobRowFaults::default();
        if options.dirty {
            if bad_fees.hits(job_idx) {
                faults.fee = Some(*pick(&mut dirt_rng, &["無料", "応相談", "1,000円"]));
            }
            if bad_salaries.hits(job_idx) {
                faults.min_salary = Some(*pick(&mut dirt_rng, &["応相談", "1,200円", "時給"]));
            }
            if bad_starts.hits(job_idx) {
                faults.start_at = Some(*pick(&mut dirt_rng, &["2025/13/45", "近日公開"]));
            }
            if bad_prefs.hits(job_idx) {
                faults.pref_cd = Some("99");
            }
        }
        let mut text_rng = rng_for(options.seed, stream::JOB_TEXT + job_idx as u64);
        composer.write_row(&mut csv, feed, job, faults, &mut text_rng)?;
        rows += 1;
        if !options.dirty {
            continue;
        }
        // A repeated job id later in the file, with changed values: the last row wins on import.
        if revisions.hits(job_idx) {
            let earlier = dirt_rng.random_range(0..=job_idx);
            let mut revised = feed.jobs[earlier].clone();
            revised.fee = draw_fee(&mut dirt_rng);
            revised.min_salary += 50;
            revised.max_salary = revised.max_salary.map(|max| max.max(revised.min_salary));
            revised.updated_at = Stamp::new(-1, dirt_rng.random_range(0..SECONDS_PER_DAY));
            let mut revised_rng = rng_for(options.seed, stream::REVISED_JOB_TEXT + earlier as u64);
            composer.write_row(
                &mut csv,
                feed,
                &revised,
                JobRowFaults::default(),
                &mut revised_rng,
            )?;
            rows += 1;
        }
        // Rows without a usable job id: a copy of this job with the id missing or not an integer.
        for (every, id) in [
            (empty_ids, ""),
            (bad_ids, *pick(&mut dirt_rng, &["ABC123", "12O45", "1.5e6"])),
        ] {
            if every.hits(job_idx) {
                let faults = JobRowFaults {
                    job_id: Some(id),
                    ..JobRowFaults::default()
                };
                let mut text_rng = rng_for(options.seed, stream::JOB_TEXT + job_idx as u64);
                composer.write_row(&mut csv, feed, job, faults, &mut text_rng)?;
                rows += 1;
            }
        }
    }
    let mut file = finish(csv)?;
    if options.dirty {
        file.write_all("\r\n備考,このファイルは求人システムから自動出力されたものです。取り扱いに注意してください。\r\n".as_bytes())?;
    }
    file.flush()?;
    Ok(rows)
}

/// Reusable buffers of one job row: its text, and scratch space for the other cells.
#[derive(Default)]
pub(super) struct JobComposer {
    text: JobText,
    scratch: String,
}

impl JobComposer {
    /// Writes one row: the job's text first, then its cells group by group in header order.
    /// Every draw comes from `rng`, the row's own stream, in that order, so the same stream
    /// writes the same row again (the id-less copies of `--dirty` rely on it).
    pub(super) fn write_row(
        &mut self,
        csv: &mut csv::Writer<BufWriter<File>>,
        feed: &Feed,
        job: &Job,
        faults: JobRowFaults,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        let world = feed.world;
        let company = &feed.companies[job.company as usize];
        let city = &world.cities[job.city as usize];
        let category = &world.categories[usize::from(job.category)];
        let vocabulary = category.vocabulary;
        let mut words = JobWords {
            place: pick::<&str>(rng, vocabulary.places),
            role: pick::<&str>(rng, vocabulary.roles),
            employment_name: world.employment_types[usize::from(job.employment)].1,
            city,
            prefecture: &world.prefectures[city.pref_slot],
            company,
            vocabulary,
            walk_minutes: rng.random_range(1..=15),
            week_phrase: "",
            keywords: &world.keywords,
        };
        words.week_phrase = if job.has_feature(world, FeatureKind::WeekOnce) {
            "週1日〜OK"
        } else if job.has_feature(world, FeatureKind::ShiftFree) {
            "シフト自由"
        } else if job.has_feature(world, FeatureKind::WeekendOnly) {
            "土日のみOK"
        } else {
            WEEK_PHRASES[Weighted::new(WEEK_PHRASES.iter().map(|w| w.1)).sample(rng)].0
        };
        self.text.compose_tags(world, job, rng);
        words
            .keywords
            .collect_for(world, job, &mut self.text.keyword_candidates);
        self.text.compose_names(job, &words, rng);
        self.text.compose_pay_and_hours(job, &words, rng);
        self.text.compose_contents(world, job, &words, rng);

        let mut row = RecordWriter {
            csv,
            columns: &JOB_COLUMNS,
            position: 0,
        };
        let cells = JobRow {
            world,
            calendar: feed.calendar,
            job,
            company,
            city,
            category,
            words: &words,
            text: &self.text,
            faults,
        };
        let scratch = &mut self.scratch;
        cells.write_identity(&mut row, rng)?;
        cells.write_place(&mut row, scratch, rng)?;
        cells.write_occupation_and_pay(&mut row, scratch, rng)?;
        cells.write_work(&mut row, rng)?;
        cells.write_terms(&mut row, rng)?;
        cells.write_application(&mut row, scratch, rng)?;
        cells.write_dates(&mut row, scratch)?;
        cells.write_flags(&mut row, rng)?;
        cells.write_media(&mut row, scratch, rng)?;
        cells.write_contact(&mut row, scratch, rng)?;
        cells.write_company(&mut row, scratch)?;
        cells.write_posting_plan(&mut row, scratch, rng)?;
        cells.write_listing(&mut row, scratch, rng)?;
        cells.write_back_office(&mut row, scratch, rng)?;
        row.end()
    }
}

/// One row's data, read by the steps that write its columns, one group of columns each, in
/// the header's order; each step draws from the row's stream in column order.
struct JobRow<'a> {
    world: &'a World,
    calendar: &'a Calendar,
    job: &'a Job,
    company: &'a Company,
    city: &'a City,
    category: &'a Category,
    words: &'a JobWords<'a>,
    text: &'a JobText,
    faults: JobRowFaults,
}

impl JobRow<'_> {
    /// The id, the company and the headline: `job_id` to `catch_copy`.
    fn write_identity(&self, row: &mut RecordWriter<'_>, rng: &mut ChaCha8Rng) -> io::Result<()> {
        let id_text = self.job.job_id.to_string();
        row.field("job_id", self.faults.job_id.unwrap_or(&id_text))?;
        row.field("endcl_cd", &self.company.endcl_cd)?;
        row.field("client_cd", &self.company.client_cd)?;
        row.field("company_name", &self.text.company_name)?;
        row.field("company_name_kana", sometimes(rng, 0.2, self.company.kana))?;
        row.field("application_name", &self.text.title)?;
        row.field("catch_copy", &self.text.catch_copy)?;
        Ok(())
    }

    /// Where the job is: `pref_cd` to `traffic_2`.
    fn write_place(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        let mut digits = Digits::new();
        let pref_text = self.words.prefecture.pref_cd.to_string();
        row.field("pref_cd", self.faults.pref_cd.unwrap_or(&pref_text))?;
        row.field("city_cd", digits.format(u64::from(self.city.city_cd)))?;
        row.field("area", &self.text.area)?;
        let with_address = rng.random_bool(0.4);
        scratch.clear();
        if with_address {
            let _ = write!(
                scratch,
                "{}{}{}-{}-{}",
                self.words.prefecture.name,
                self.city.name,
                pick(rng, &["本町", "中央", "駅前", "栄町", "緑町", "旭町"]),
                rng.random_range(1..=5),
                rng.random_range(1..=30)
            );
        }
        row.field("work_address", &*scratch)?;
        scratch.clear();
        if with_address {
            let _ = write!(
                scratch,
                "{:03}-{:04}",
                rng.random_range(0..1000),
                rng.random_range(0..10000)
            );
        }
        row.field("work_zip", &*scratch)?;
        scratch.clear();
        let _ = write!(
            scratch,
            "{:.6}",
            self.city.latitude + rng.random_range(-0.025..0.025)
        );
        row.field("latitude", &*scratch)?;
        scratch.clear();
        let _ = write!(
            scratch,
            "{:.6}",
            self.city.longitude + rng.random_range(-0.03..0.03)
        );
        row.field("longitude", &*scratch)?;
        row.field("station_name_eki", &self.text.station)?;
        row.field("traffic", &self.text.traffic)?;
        row.field("station_name_eki_2", &self.text.station_2)?;
        row.field("traffic_2", &self.text.traffic_2)?;
        Ok(())
    }

    /// What the job is and pays: `occupation_cd1` to `feature_codes`.
    fn write_occupation_and_pay(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        let mut digits = Digits::new();
        let occupation_cd = self.category.occupation_cd.to_string();
        row.field("occupation_cd1", &occupation_cd)?;
        row.field("occupation_cd2", &occupation_cd)?;
        row.field("occupation_cd3", &occupation_cd)?;
        let detail = self
            .job
            .detail
            .map(|d| self.category.details[usize::from(d)].0);
        row.field(
            "jobtype_detail",
            detail.map_or(String::new(), |code| code.to_string()),
        )?;
        row.field(
            "employment_type_cd",
            digits.format(u64::from(self.job.employment_type_cd(self.world))),
        )?;
        row.field(
            "salary_type_cd",
            digits.format(u64::from(self.job.salary_type_cd)),
        )?;
        let min_salary = self.job.min_salary.to_string();
        row.field("min_salary", self.faults.min_salary.unwrap_or(&min_salary))?;
        row.field(
            "max_salary",
            self.job
                .max_salary
                .map_or(String::new(), |max| max.to_string()),
        )?;
        row.field("salary", &self.text.salary)?;
        scratch.clear();
        if self.job.salary_type_cd == 1 && rng.random_bool(0.15) {
            let _ = write!(
                scratch,
                "※研修期間（1ヶ月）は時給{}円",
                self.job.min_salary.saturating_sub(50)
            );
        }
        row.field("salary_note", &*scratch)?;
        let fee = self.job.fee.to_string();
        row.field("fee", self.faults.fee.unwrap_or(&fee))?;
        row.field("feature_codes", &self.job.feature_codes)?;
        Ok(())
    }

    /// When and how one works, and the description: `hours` to `requirement`.
    fn write_work(&self, row: &mut RecordWriter<'_>, rng: &mut ChaCha8Rng) -> io::Result<()> {
        let mut digits = Digits::new();
        row.field("hours", &self.text.hours)?;
        row.field("min_days_per_week", digits.format(rng.random_range(1..=3)))?;
        row.field("min_hours_per_day", digits.format(rng.random_range(2..=6)))?;
        row.field(
            "shift_type",
            *pick(rng, &["シフト制", "シフト制", "固定シフト", "自由シフト"]),
        )?;
        row.field(
            "work_period",
            if self.job.has_feature(self.world, FeatureKind::ShortTerm) {
                *pick(rng, &["短期（1ヶ月以内）", "単発（1日のみ）"])
            } else {
                sometimes(rng, 0.4, "長期（3ヶ月以上）")
            },
        )?;
        let holiday = *pick(
            rng,
            &["シフト制", "週休2日制", "土日祝休み", "年末年始休暇あり"],
        );
        row.field("holiday", sometimes(rng, 0.5, holiday))?;
        row.field("job_contents", &self.text.contents)?;
        row.field("welfare", &self.text.welfare)?;
        row.field("requirement", &self.text.requirement)?;
        Ok(())
    }

    /// Conditions of employment: `transportation_fee` to `age_max`.
    fn write_terms(&self, row: &mut RecordWriter<'_>, rng: &mut ChaCha8Rng) -> io::Result<()> {
        row.field(
            "transportation_fee",
            if self.job.has_feature(self.world, FeatureKind::Commute) {
                *pick(rng, &["規定支給", "全額支給", "一部支給（上限1日1000円）"])
            } else {
                *pick(rng, &["", "なし", "規定支給"])
            },
        )?;
        row.field(
            "pay_cycle",
            if self.job.has_feature(self.world, FeatureKind::DailyPay) {
                *pick(rng, &["日払い", "週払い"])
            } else {
                *pick(rng, &["月払い", "月払い", "週払い"])
            },
        )?;
        row.field("trial_period", *pick(rng, &["あり（1ヶ月）", "なし", ""]))?;
        row.field(
            "dress_code",
            *pick(rng, &["制服貸与", "私服OK", "動きやすい服装", ""]),
        )?;
        row.field(
            "recruit_count",
            *pick(rng, &["1名", "2〜3名", "5名以上", "10名以上"]),
        )?;
        let with_ages = rng.random_bool(0.15);
        row.field("age_min", if with_ages { "18" } else { "" })?;
        row.field(
            "age_max",
            if with_ages && rng.random_bool(0.3) {
                "64"
            } else {
                ""
            },
        )?;
        Ok(())
    }

    /// How to apply: `selection_process` to `url`.
    fn write_application(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        let selection = *pick(
            rng,
            &[
                "応募→面接→採用",
                "Web応募→書類選考→面接（1回）→採用",
                "応募→電話連絡→面接→採用",
            ],
        );
        row.field("selection_process", sometimes(rng, 0.3, selection))?;
        let interview = *pick(rng, &["勤務先にて", "オンライン面接可", "本社にて"]);
        row.field("interview_place", sometimes(rng, 0.4, interview))?;
        let method = *pick(rng, &["Web応募", "電話応募・Web応募"]);
        row.field("application_method", sometimes(rng, 0.5, method))?;
        scratch.clear();
        if rng.random_bool(0.15) {
            let _ = write!(scratch, "https://example.jp/apply/{}", self.job.job_id);
        }
        row.field("apply_url", &*scratch)?;
        scratch.clear();
        let _ = write!(scratch, "https://example.jp/job/{}", self.job.job_id);
        row.field("url", &*scratch)?;
        Ok(())
    }

    /// The posting's timestamps: `start_at` to `updated_at`.
    fn write_dates(&self, row: &mut RecordWriter<'_>, scratch: &mut String) -> io::Result<()> {
        scratch.clear();
        match (self.faults.start_at, self.job.start_at) {
            (Some(bad), _) => scratch.push_str(bad),
            (None, Some(start)) => self.calendar.push_stamp(scratch, start, TOKYO_OFFSET),
            (None, None) => {}
        }
        row.field("start_at", &*scratch)?;
        scratch.clear();
        if let Some(end) = self.job.end_at {
            self.calendar.push_stamp(scratch, end, TOKYO_OFFSET);
        }
        row.field("end_at", &*scratch)?;
        scratch.clear();
        if let Some(start) = self.job.start_at {
            self.calendar.push_stamp(scratch, start, TOKYO_OFFSET);
        }
        row.field("published_at", &*scratch)?;
        scratch.clear();
        self.calendar
            .push_stamp(scratch, self.job.created_at, TOKYO_OFFSET);
        row.field("created_at", &*scratch)?;
        scratch.clear();
        self.calendar
            .push_stamp(scratch, self.job.updated_at, TOKYO_OFFSET);
        row.field("updated_at", &*scratch)?;
        Ok(())
    }

    /// Delivery, deletion and the feature flags: `is_delivery` to `is_weekend_only`.
    fn write_flags(&self, row: &mut RecordWriter<'_>, rng: &mut ChaCha8Rng) -> io::Result<()> {
        row.field("is_delivery", flag(self.job.is_delivery))?;
        row.field("del_flg", flag(self.job.deleted))?;
        row.field("is_pickup", flag(rng.random_bool(0.05)))?;
        row.field(
            "is_new",
            flag(self.job.start_at.is_some_and(|s| (-7..=0).contains(&s.day))),
        )?;
        row.field("is_urgent", flag(rng.random_bool(0.08)))?;
        row.field("is_featured", flag(rng.random_bool(0.03)))?;
        let has_tag = |tag: &str| self.text.tags.iter().any(|t| t.contains(tag));
        row.field("is_remote_ok", flag(has_tag("在宅") || has_tag("リモート")))?;
        row.field("is_student_ok", flag(has_tag("学生")))?;
        row.field(
            "is_senior_ok",
            flag(has_tag("シニア") || has_tag("年齢不問")),
        )?;
        row.field("is_inexperienced_ok", flag(has_tag("未経験")))?;
        row.field(
            "is_daily_pay",
            flag(self.job.has_feature(self.world, FeatureKind::DailyPay)),
        )?;
        row.field(
            "is_short_term",
            flag(self.job.has_feature(self.world, FeatureKind::ShortTerm)),
        )?;
        row.field(
            "is_weekend_only",
            flag(self.words.week_phrase.contains("土日のみ")),
        )?;
        Ok(())
    }

    /// Images, captions and a video: `image_url_1` to `movie_url`.
    fn write_media(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        let images = *pick(rng, &[0, 0, 0, 1, 1, 1, 2, 3]);
        for (k, column) in [
            "image_url_1",
            "image_url_2",
            "image_url_3",
            "image_url_4",
            "image_url_5",
        ]
        .into_iter()
        .enumerate()
        {
            scratch.clear();
            if k < images {
                let _ = write!(
                    scratch,
                    "https://img.example.jp/j/{}_{}.jpg",
                    self.job.job_id,
                    k + 1
                );
            }
            row.field(column, &*scratch)?;
        }
        for (k, column) in [
            "image_caption_1",
            "image_caption_2",
            "image_caption_3",
            "image_caption_4",
            "image_caption_5",
        ]
        .into_iter()
        .enumerate()
        {
            let caption = if k < images && rng.random_bool(0.25) {
                *pick(rng, &IMAGE_CAPTIONS)
            } else {
                ""
            };
            row.field(column, caption)?;
        }
        scratch.clear();
        if rng.random_bool(0.03) {
            let _ = write!(
                scratch,
                "https://video.example.jp/job/{}.mp4",
                self.job.job_id
            );
        }
        row.field("movie_url", &*scratch)?;
        Ok(())
    }

    /// Who to contact: `contact_name` to `contact_hours`.
    fn write_contact(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        // Contact and company details are filled for some companies only, consistently per self.company.
        let detailed = self.company.detailed_profile;
        scratch.clear();
        if detailed || rng.random_bool(0.2) {
            let _ = write!(scratch, "{}（採用担当）", pick(rng, &SURNAMES));
        }
        row.field("contact_name", &*scratch)?;
        row.field("contact_phone", &self.company.phone)?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "recruit-{}@example.co.jp",
                self.company.endcl_cd.to_ascii_lowercase()
            );
        }
        row.field("contact_email", &*scratch)?;
        let contact_hours = *pick(rng, &["平日10:00〜18:00", "9:00〜17:00（土日祝除く）"]);
        row.field("contact_hours", sometimes(rng, 0.3, contact_hours))?;
        Ok(())
    }

    /// The company's profile: `company_address` to `business_description`.
    fn write_company(&self, row: &mut RecordWriter<'_>, scratch: &mut String) -> io::Result<()> {
        let detailed = self.company.detailed_profile;
        let home = &self.world.cities[self.company.home_city as usize];
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "{}{}中央{}-{}-{}",
                self.world.prefectures[home.pref_slot].name,
                home.name,
                self.company.size % 5 + 1,
                self.company.size % 17 + 1,
                self.company.size % 9 + 1
            );
        }
        row.field("company_address", &*scratch)?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "{:03}-{:04}",
                home.city_cd % 1000,
                self.company.size % 10_000
            );
        }
        row.field("company_zip", &*scratch)?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "https://example.co.jp/{}/",
                self.company.endcl_cd.to_ascii_lowercase()
            );
        }
        row.field("company_url", &*scratch)?;
        scratch.clear();
        if detailed && self.company.size >= 5 {
            let _ = write!(
                scratch,
                "{}を中心に{}を展開しています。",
                if self.company.size >= 100 {
                    "全国"
                } else {
                    self.words.prefecture.name
                },
                self.category.vocabulary.business
            );
        }
        row.field("company_description", &*scratch)?;
        let employees = match self.company.size {
            0..=4 => "1〜9名",
            5..=19 => "10〜49名",
            20..=99 => "50〜299名",
            _ => "300名以上",
        };
        row.field("company_employees", if detailed { employees } else { "" })?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "{}年{}月",
                1960 + self.company.size % 60,
                self.company.size % 12 + 1
            );
        }
        row.field("company_established", &*scratch)?;
        let capital = match self.company.size {
            0..=4 => "300万円",
            5..=19 => "1,000万円",
            20..=99 => "5,000万円",
            _ => "1億円",
        };
        row.field("capital", if detailed { capital } else { "" })?;
        row.field(
            "business_description",
            if detailed {
                self.category.vocabulary.business
            } else {
                ""
            },
        )?;
        Ok(())
    }

    /// The advertising plan: `posting_plan` to `ad_group_id`.
    fn write_posting_plan(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        row.field(
            "posting_plan",
            *pick(
                rng,
                &[
                    "スタンダード",
                    "スタンダード",
                    "ライト",
                    "プレミアム",
                    "無料掲載",
                ],
            ),
        )?;
        scratch.clear();
        if let Some(start) = self.job.start_at {
            scratch.push_str(self.calendar.date(start.day));
        }
        row.field("plan_start_date", &*scratch)?;
        scratch.clear();
        if let Some(end) = self.job.end_at {
            scratch.push_str(self.calendar.date(end.day));
        }
        row.field("plan_end_date", &*scratch)?;
        scratch.clear();
        let _ = write!(scratch, "M{:02}", rng.random_range(1..=5));
        row.field("media_code", &*scratch)?;
        scratch.clear();
        if rng.random_bool(0.2) {
            let _ = write!(scratch, "CP{:03}", rng.random_range(1..=120));
        }
        row.field("campaign_code", &*scratch)?;
        scratch.clear();
        if rng.random_bool(0.6) {
            let _ = write!(scratch, "{}", rng.random_range(10_000..100_000));
        }
        row.field("ad_group_id", &*scratch)?;
        Ok(())
    }

    /// How the posting is listed and found: `sort_order` to `tags`.
    fn write_listing(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        let mut digits = Digits::new();
        row.field("sort_order", digits.format(rng.random_range(0..100)))?;
        let views = (20.0 * (1.2 * standard_normal(rng)).exp()) as u64;
        row.field("view_count", digits.format(views))?;
        row.field("apply_count", digits.format(views / 30))?;
        scratch.clear();
        if rng.random_bool(0.25) {
            for (position, tag) in self.text.tags.iter().take(3).enumerate() {
                if position > 0 {
                    scratch.push(' ');
                }
                scratch.push_str(tag);
            }
        }
        row.field("search_keywords", &*scratch)?;
        scratch.clear();
        if rng.random_bool(0.25) {
            let _ = write!(
                scratch,
                "{}の{}バイト・パート求人",
                self.city.name, self.words.role
            );
        }
        row.field("seo_title", &*scratch)?;
        scratch.clear();
        for (position, tag) in self.text.tags.iter().take(3).enumerate() {
            if position > 0 {
                scratch.push(',');
            }
            scratch.push_str(tag);
        }
        row.field("tags", &*scratch)?;
        Ok(())
    }

    /// The CMS's own columns: `job_code` to `source_system`.
    fn write_back_office(
        &self,
        row: &mut RecordWriter<'_>,
        scratch: &mut String,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        scratch.clear();
        let _ = write!(scratch, "J{}-{}", self.job.job_id, rng.random_range(1..=3));
        row.field("job_code", &*scratch)?;
        row.field(
            "internal_memo",
            if rng.random_bool(0.05) {
                *pick(
                    rng,
                    &[
                        "掲載内容確認済み",
                        "写真差し替え予定",
                        "次回更新時に給与見直し",
                    ],
                )
            } else {
                ""
            },
        )?;
        for (k, column) in [
            "free_field_1",
            "free_field_2",
            "free_field_3",
            "free_field_4",
            "free_field_5",
            "free_field_6",
            "free_field_7",
            "free_field_8",
            "free_field_9",
            "free_field_10",
        ]
        .into_iter()
        .enumerate()
        {
            let value = if rng.random_bool(0.35 / (k + 1) as f64) {
                *pick(rng, &FREE_FIELD_ITEMS)
            } else {
                ""
            };
            row.field(column, value)?;
        }
        let ended = self.job.end_at.is_some_and(|end| end.day < 0);
        row.field(
            "status",
            if self.job.deleted || ended {
                "掲載終了"
            } else {
                "掲載中"
            },
        )?;
        row.field("approval_status", "承認済")?;
        scratch.clear();
        let _ = write!(scratch, "staff{:03}", rng.random_range(1..=40));
        row.field("last_editor", &*scratch)?;
        row.field("source_system", "baito-cms")?;
        Ok(())
    }
}
