//! The text of a job row: tags, company and station names, title, catch copy, pay and hours,
//! contents, welfare and requirements.

use std::fmt::Write as _;

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::companies::Company;
use super::keywords::KeywordIndex;
use super::postings::Job;
use super::sampling::pick;
use super::vocabulary::{
    CLOSINGS, GENERIC_DUTIES, GENERIC_TAGS, REQUIREMENT_ITEMS, Vocabulary, WELFARE_ITEMS,
    railway_lines, salary_type_name,
};
use super::world::{City, FeatureKind, PrefectureSlot, World};

/// The parts of a job's text that later parts refer to.
pub(super) struct JobWords<'a> {
    pub(super) place: &'static str,
    pub(super) role: &'static str,
    pub(super) employment_name: &'static str,
    pub(super) city: &'a City,
    pub(super) prefecture: &'a PrefectureSlot,
    pub(super) company: &'a Company,
    pub(super) vocabulary: &'static Vocabulary,
    pub(super) walk_minutes: u32,
    pub(super) week_phrase: &'static str,
    pub(super) keywords: &'a KeywordIndex,
}

/// Reusable buffers for the text of one job row.
#[derive(Default)]
pub(super) struct JobText {
    pub(super) tags: Vec<&'static str>,
    pub(super) keyword_candidates: Vec<u16>,
    pub(super) company_name: String,
    pub(super) title: String,
    pub(super) catch_copy: String,
    pub(super) salary: String,
    pub(super) hours: String,
    pub(super) station: String,
    pub(super) traffic: String,
    pub(super) station_2: String,
    pub(super) traffic_2: String,
    pub(super) area: String,
    pub(super) contents: String,
    pub(super) welfare: String,
    pub(super) requirement: String,
}

impl JobText {
    pub(super) fn compose_tags(&mut self, world: &World, job: &Job, rng: &mut ChaCha8Rng) {
        self.tags.clear();
        for &feature in &job.features {
            let feature = &world.features[usize::from(feature)];
            let tag = match feature.kind {
                FeatureKind::DailyPay => *pick(rng, &["日払いOK", "週払いOK", "日払い・週払いOK"]),
                FeatureKind::Other => feature.name,
                _ => feature.tag,
            };
            self.tags.push(tag);
        }
        let vocabulary = world.categories[usize::from(job.category)].vocabulary;
        if vocabulary.remote_friendly && rng.random_bool(0.3) {
            self.tags
                .push(*pick(rng, &["リモートOK", "在宅勤務あり", "テレワーク可"]));
        }
        if rng.random_bool(0.06) {
            self.tags.push("即日勤務OK");
        }
        if rng.random_bool(0.04) {
            self.tags.push(*pick(rng, &["副業OK", "Wワーク歓迎"]));
        }
        // The tags a title shows first are the attractive ones, not the order of feature codes.
        self.tags.shuffle(rng);
    }

    pub(super) fn compose_names(&mut self, job: &Job, words: &JobWords, rng: &mut ChaCha8Rng) {
        let company = words.company;
        let city = words.city;
        // A company posting outside its own line of business does so under its legal name.
        let brand_fits = usize::from(job.category) == company.category;
        self.company_name.clear();
        if brand_fits && company.is_chain() {
            let _ = write!(self.company_name, "{} {}店", company.brand, city.short_name);
        } else if brand_fits && rng.random_bool(0.5) {
            self.company_name.push_str(&company.brand);
        } else {
            self.company_name.push_str(&company.legal_name);
        }

        self.station.clear();
        match rng.random_range(0..10) {
            0 => {
                let _ = write!(self.station, "東{}駅", city.short_name);
            }
            1 if !city.short_name.ends_with("中央") => {
                let _ = write!(self.station, "{}中央駅", city.short_name);
            }
            2 => {
                let _ = write!(self.station, "新{}駅", city.short_name);
            }
            _ => {
                let _ = write!(self.station, "{}駅", city.short_name);
            }
        }
        let lines = railway_lines(words.prefecture.pref_cd);
        self.traffic.clear();
        match rng.random_range(0..20) {
            0..=13 => {
                let _ = write!(
                    self.traffic,
                    "{} {} 徒歩{}分",
                    pick(rng, lines),
                    self.station,
                    words.walk_minutes
                );
            }
            14..=16 => {
                let _ = write!(
                    self.traffic,
                    "{}よりバス{}分",
                    self.station,
                    rng.random_range(5..=25)
                );
            }
            _ => {
                let _ = write!(
                    self.traffic,
                    "{}から車で{}分（車通勤OK）",
                    self.station,
                    rng.random_range(5..=20)
                );
            }
        }
        self.station_2.clear();
        self.traffic_2.clear();
        if rng.random_bool(0.2) {
            let _ = write!(self.station_2, "{}本町駅", city.short_name);
            let _ = write!(
                self.traffic_2,
                "{} {} 徒歩{}分",
                pick(rng, lines),
                self.station_2,
                rng.random_range(5..=20)
            );
        }
        self.area.clear();
        let _ = write!(self.area, "{}{}", words.prefecture.name, city.name);

        let first_tag = self.tags.first().copied().unwrap_or(GENERIC_TAGS[0]);
        let second_tag = self
            .tags
            .get(1)
            .copied()
            .unwrap_or_else(|| *pick(rng, &GENERIC_TAGS));
        let (place, role) = (words.place, words.role);
        self.title.clear();
        let _ = match rng.random_range(0..6) {
            0 => write!(self.title, "【{first_tag}】{place}の{role}／{second_tag}"),
            1 => write!(self.title, "{place}の{role}＜{first_tag}＞"),
            2 => write!(
                self.title,
                "{role}＜{words_week}＞",
                words_week = words.week_phrase
            ),
            3 if brand_fits => write!(self.title, "★{first_tag}★{}の{role}", company.brand),
            3 => write!(self.title, "★{first_tag}★{place}の{role}"),
            4 => write!(self.title, "{role}募集！{first_tag}・{second_tag}"),
            _ => write!(
                self.title,
                "【{}】{place}での{role}（{}）",
                city.short_name, words.employment_name
            ),
        };
        if job.fee >= 3000 && rng.random_bool(0.3) {
            self.title.insert_str(0, "【急募】");
        }

        self.catch_copy.clear();
        let _ = match rng.random_range(0..7) {
            0 => write!(
                self.catch_copy,
                "{first_tag}！{}から徒歩{}分の好立地です",
                self.station, words.walk_minutes
            ),
            1 => write!(self.catch_copy, "未経験でも安心の研修制度あり！{first_tag}"),
            2 => write!(
                self.catch_copy,
                "{first_tag}＆{second_tag}で働きやすさ抜群！"
            ),
            // Keywords of the starter SEO list, so that the SEO score has something to find.
            3 if !self.keyword_candidates.is_empty() => write!(
                self.catch_copy,
                "{}をお探しの方にピッタリのお仕事です",
                words.keywords.texts[usize::from(*pick(rng, &self.keyword_candidates))]
            ),
            3 => write!(self.catch_copy, "{place}デビューにもぴったり！{first_tag}"),
            4 => write!(self.catch_copy, "仲間と楽しく働けるアットホームな職場です♪"),
            5 => write!(
                self.catch_copy,
                "しっかり稼ぎたい方必見！{}{}円以上",
                salary_type_name(job.salary_type_cd),
                job.min_salary
            ),
            _ => write!(
                self.catch_copy,
                "{first_tag}だから、学校や家庭と両立しやすい！"
            ),
        };
    }

    pub(super) fn compose_pay_and_hours(
        &mut self,
        job: &Job,
        words: &JobWords,
        rng: &mut ChaCha8Rng,
    ) {
        let name = salary_type_name(job.salary_type_cd);
        self.salary.clear();
        let monthly = job.salary_type_cd == 4;
        let _ = write!(self.salary, "{name}");
        push_yen(&mut self.salary, job.min_salary, monthly);
        match job.max_salary {
            Some(max) if max > job.min_salary => {
                self.salary.push('～');
                push_yen(&mut self.salary, max, monthly);
            }
            _ => self.salary.push('～'),
        }
        let daily_pay = self.tags.iter().any(|t| t.contains("日払い"));
        let weekly_pay = self.tags.iter().any(|t| t.starts_with("週払い"));
        if daily_pay {
            self.salary.push_str("（日払いOK）");
        } else if weekly_pay {
            self.salary.push_str("（週払いOK）");
        } else if rng.random_bool(0.4) {
            self.salary.push_str("（月払い）");
        }
        if rng.random_bool(0.2) {
            self.salary.push_str("＋交通費");
        }

        let shifts = words.vocabulary.shifts;
        self.hours.clear();
        match rng.random_range(0..4) {
            0 if shifts.len() > 1 => {
                let first = rng.random_range(0..shifts.len());
                let second = (first + rng.random_range(1..shifts.len())) % shifts.len();
                let _ = write!(
                    self.hours,
                    "①{}<br>②{}<br>{}",
                    shifts[first], shifts[second], words.week_phrase
                );
            }
            1 => {
                let _ = write!(
                    self.hours,
                    "{}（実働{}h）<br>{}",
                    pick(rng, shifts),
                    rng.random_range(3..=8),
                    words.week_phrase
                );
            }
            _ => {
                let _ = write!(self.hours, "{}<br>{}", pick(rng, shifts), words.week_phrase);
            }
        }
        if rng.random_bool(0.2) {
            self.hours.push_str("<br>※休憩あり");
        }
    }

    pub(super) fn compose_contents(
        &mut self,
        world: &World,
        job: &Job,
        words: &JobWords,
        rng: &mut ChaCha8Rng,
    ) {
        // Most texts are short, a few long: 200–500 characters, about 280 on average.
        let target_chars = 200 + (260.0 * rng.random::<f64>().powf(2.6)) as usize;
        let closing = *pick(rng, &CLOSINGS);
        self.contents.clear();
        let _ = match rng.random_range(0..4) {
            0 => write!(
                self.contents,
                "{}で{}として働くスタッフを募集しています。",
                self.company_name, words.role
            ),
            1 => write!(
                self.contents,
                "{}にある{}でのお仕事です。",
                self.area, words.place
            ),
            2 => write!(
                self.contents,
                "{}から徒歩{}分、通いやすい{}で一緒に働きませんか？",
                self.station, words.walk_minutes, words.place
            ),
            _ => write!(
                self.contents,
                "地域のお客様に愛されて{}年。{}の{}を大募集！",
                rng.random_range(3..=40),
                self.company_name,
                words.role
            ),
        };
        let category = &world.categories[usize::from(job.category)];
        let _ = write!(self.contents, "\n【職種】{}", category.name);
        if let Some(d) = job.detail {
            let _ = write!(self.contents, "／{}", category.details[usize::from(d)].1);
        }
        self.contents.push('\n');
        let mut kinds_told = 0_u32;
        for &feature in &job.features {
            let kind = world.features[usize::from(feature)].kind;
            if kinds_told & (1 << kind as u32) != 0 {
                continue;
            }
            kinds_told |= 1 << kind as u32;
            let sentence = match kind {
                FeatureKind::DailyPay => "給与は日払い・週払いにも対応しています（規定あり）。",
                FeatureKind::ShortTerm => "1日だけの単発や短期のお仕事もあります。",
                FeatureKind::Inexperienced => "未経験の方も大歓迎です。",
                FeatureKind::Student => "学生スタッフが多数活躍中！テスト期間のお休みもOKです。",
                FeatureKind::Homemaker => "主婦(夫)の方も扶養内で働けます。",
                FeatureKind::Senior => "60歳以上のシニアの方も活躍しています。",
                FeatureKind::Commute => "交通費は規定により支給します。",
                _ => continue,
            };
            self.contents.push_str(sentence);
        }
        let mut sentences: Vec<&str> = words
            .vocabulary
            .duties
            .iter()
            .chain(GENERIC_DUTIES.iter())
            .copied()
            .collect();
        sentences.shuffle(rng);
        let mut chars = self.contents.chars().count() + 1 + closing.chars().count();
        for sentence in sentences {
            if chars >= target_chars {
                break;
            }
            if rng.random_bool(0.15) {
                self.contents.push_str("<br>");
            }
            self.contents.push_str(sentence);
            chars += sentence.chars().count();
        }
        self.contents.push('\n');
        self.contents.push_str(closing);

        self.welfare.clear();
        let mut items: Vec<&str> = WELFARE_ITEMS.to_vec();
        items.shuffle(rng);
        let n_items = rng.random_range(2..=4);
        for (position, item) in items.iter().take(n_items).enumerate() {
            if position > 0 {
                self.welfare.push('、');
            }
            self.welfare.push_str(item);
        }

        self.requirement.clear();
        let welcomes_students = job.has_feature(world, FeatureKind::Student)
            || job.has_feature(world, FeatureKind::HighSchool);
        for tag in self.tags.iter().take(1) {
            let _ = write!(self.requirement, "{tag}！");
        }
        let n_requirements = 1;
        let mut added = 0;
        while added < n_requirements {
            let item = *pick(rng, &REQUIREMENT_ITEMS);
            if welcomes_students && item.contains("不可") {
                continue;
            }
            if added > 0 || !self.requirement.is_empty() {
                self.requirement.push_str("<br>");
            }
            self.requirement.push_str(item);
            added += 1;
        }
    }
}

/// Appends an amount in yen; monthly pay is written with thousands separators (`200,000円`).
pub(super) fn push_yen(out: &mut String, amount: u32, with_separators: bool) {
    if with_separators && amount >= 1000 {
        let _ = write!(out, "{},{:03}円", amount / 1000, amount % 1000);
    } else {
        let _ = write!(out, "{amount}円");
    }
}
