//! SPEC §5 (the email): rendering a user's picks into a subject, an HTML and a text body
//! and a complete RFC 5322 message, from fully deterministic hand-built inputs.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use html5ever::tendril::TendrilSink;
use jiff::civil::{Date, date};
use mailscore::domain::batch::StoredPick;
use mailscore::domain::{
    CityCode, EmailAddress, Fee, JobColumns, JobFields, JobId, Masters, PrefCode, User, UserId,
};
use mailscore::masters::builtin_masters;
use mailscore::matching::reasons::Reason;
use mailscore::render::message::build_message;
use mailscore::render::{
    EmailInputs, EmailSettings, EmailView, RenderedEmail, build_view, fill_links, pack_view,
    unpack_view,
};
use mailscore::scoring::ScoringConfig;
use mailscore::scoring::profile::{Geography, Location};
use mailscore::templates::load_renderer;
use mailscore::tokens::{Purpose, TokenSigner};
use markup5ever_rcdom::{Handle, NodeData, RcDom};

/// The date of every email: a Tuesday.
const D: Date = date(2025, 11, 25);
const BASE: &str = "https://mail.example.jp";
const KEY: &[u8; 32] = b"render-tests-key-0123456789abcde";

// Section codes (`SectionKind::code`).
const EDITORIAL: u8 = 0;
const TOP5: u8 = 1;
const REGIONAL: u8 = 2;
const NEARBY: u8 = 3;
const HIGH_INCOME: u8 = 4;
const NEW: u8 = 5;

// Tier codes (`Tier::code`).
const CITY: u8 = 0;
const PREFECTURE: u8 = 1;
const REGION: u8 = 2;
const ANYWHERE: u8 = 3;
const ALL: u8 = 4;

/// The full counts of SPEC §4, in section order.
const FULL_SECTIONS: [(u8, usize); 6] = [
    (EDITORIAL, 5),
    (TOP5, 5),
    (REGIONAL, 10),
    (NEARBY, 8),
    (HIGH_INCOME, 7),
    (NEW, 5),
];

/// 64 characters: trimmed.
const LONG_TITLE: &str = "【未経験歓迎】駅チカのおしゃれなカフェでホールスタッフ募集！週2日・1日3時間からOK、まかない付きで学生さんも主婦さんも大歓迎";
/// Exactly `title_max_chars` (40): kept whole.
const TITLE_40: &str =
    "駅ビル内ベーカリーでの販売スタッフ、朝7時から昼までの短時間勤務、パンのお土産付";
/// 41 characters: trimmed by one.
const TITLE_41: &str =
    "駅ビル内ベーカリーでの販売スタッフ、朝7時から昼までの短時間勤務、パンのお土産つき";

const TITLES: [&str; 12] = [
    "ホールスタッフ",
    LONG_TITLE,
    "コンビニ店員（早朝・深夜）",
    "倉庫内での軽作業・ピッキング",
    "塾講師（個別指導）",
    "【日払いOK】引越しスタッフ＆イベント設営　高時給1500円スタート！体力に自信のある方、短期・単発もOKです",
    "データ入力・事務補助",
    TITLE_40,
    "居酒屋キッチンスタッフ",
    TITLE_41,
    "アパレル販売スタッフ",
    "ドラッグストアの品出し・レジ",
];
const COMPANIES: [&str; 8] = [
    "株式会社カフェ・ド・コガネイ",
    "A&B <フーズ> 株式会社",
    "コンビニエンス本町店",
    "株式会社ロジスティクス東京",
    "個別指導塾ステップ",
    "株式会社ミドリ引越センター多摩",
    "株式会社オフィスサポート",
    "炭火居酒屋 はなび",
];
const SALARIES: [&str; 6] = [
    "時給1200円〜",
    "時給1,500円〜1,800円",
    "日給12,000円",
    "月給25万円〜",
    "時給1100円〜 ※研修期間あり",
    "",
];
const HOURS: [&str; 7] = [
    "10:00〜18:00<br>週2日〜OK",
    "9:00〜17:00<br/>実働7時間",
    "17:00〜23:00<br />土日のみOK",
    "シフト制 &amp; 応相談",
    "6:00〜9:00",
    "",
    "<p>8:00〜20:00の間で</p>1日4h〜<br>週3日以上勤務できる方<br>※曜日・時間は相談に応じます。長期で働ける方を優遇します。お気軽にご応募ください",
];
const STATIONS: [&str; 5] = ["武蔵小金井駅", "東小金井駅", "新宿駅", "", "国分寺駅"];
const PLACES: [(u16, Option<u32>); 10] = [
    (13, Some(13210)),
    (13, Some(13214)),
    (13, Some(13104)),
    (13, Some(13201)),
    (13, None),
    (11, Some(11203)),
    (14, Some(14102)),
    (27, Some(27128)),
    (1, Some(1101)),
    (47, Some(47201)),
];
/// Built-in feature codes; 401 is disabled and 9999 unknown (neither is shown).
const FEATURES: [&[u32]; 6] = [
    &[104, 105, 201],
    &[101, 203, 205, 207],
    &[],
    &[308],
    &[401, 9999, 301, 302],
    &[212],
];
const N_JOBS: usize = 60;

fn job_id(index: usize) -> u64 {
    3_000_001 + 7 * index as u64
}

fn job(index: usize) -> JobFields {
    let (pref, city) = PLACES[index % PLACES.len()];
    JobFields {
        job_id: Some(JobId::new(job_id(index))),
        endcl_cd: Some(format!("C{:03}", index % 8)),
        company_name: COMPANIES[index % COMPANIES.len()].to_owned(),
        application_name: TITLES[index % TITLES.len()].to_owned(),
        pref_cd: Some(PrefCode::new(pref)),
        city_cd: city.map(CityCode::new),
        salary_type_cd: Some(1),
        min_salary: Some(1100 + 50 * (index % 9) as u32),
        fee: Fee::new(1000),
        employment_type_cd: Some(1),
        occupation_cd1: Some(100),
        feature_codes: FEATURES[index % FEATURES.len()].to_vec(),
        is_delivery: true,
        catch_copy: format!("キャッチコピー{index}：あなたの力が必要です"),
        station_name_eki: STATIONS[index % STATIONS.len()].to_owned(),
        salary_text: SALARIES[index % SALARIES.len()].to_owned(),
        hours: HOURS[index % HOURS.len()].to_owned(),
        ..Default::default()
    }
}

fn user(id: &str, name: Option<&str>, pref: Option<u16>, city: Option<u32>) -> User {
    User {
        user_id: UserId::parse(id).unwrap(),
        email: EmailAddress::parse(&format!("{id}@example.com")).unwrap(),
        name: name.map(str::to_owned),
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

fn settings() -> EmailSettings {
    EmailSettings {
        base_url: BASE.to_owned(),
        sender_name: "バイト通信 編集部".to_owned(),
        sender_email: "news@mail.example.jp".to_owned(),
        sender_address: "〒184-0004 東京都小金井市本町6-5-3 テストビル2F 株式会社バイト通信"
            .to_owned(),
        newsletter_name: "今日のバイト厳選便".to_owned(),
        title_max_chars: 40,
        templates_dir: None,
    }
}

/// What every email of the tests shares: masters, geography, jobs, key, settings.
struct World {
    masters: Masters,
    geography: Geography,
    feature_names: HashMap<u32, String>,
    jobs: JobColumns,
    signer: TokenSigner,
    settings: EmailSettings,
}

impl World {
    fn new() -> Self {
        let masters = builtin_masters();
        let geography = Geography::new(&masters, &ScoringConfig::default());
        let feature_names = masters
            .features
            .iter()
            .filter(|f| f.is_enabled)
            .map(|f| (f.feature_cd, f.name.clone()))
            .collect();
        let mut jobs = JobColumns::new();
        // Pushed out of order: the columns are sorted by id as stored.
        for index in (0..N_JOBS).rev() {
            let fields = job(index);
            jobs.push(fields.job_id.unwrap(), &fields);
        }
        Self {
            masters,
            geography,
            feature_names,
            jobs: jobs.sorted_by_job_id(),
            signer: TokenSigner::new(KEY),
            settings: settings(),
        }
    }

    /// The view of `case`'s email on `date`, links filled.
    fn view_on(&self, case: &Case, date: Date) -> EmailView {
        let mut view = build_view(&EmailInputs {
            user: &case.user,
            location: case.location,
            date,
            picks: &case.picks,
            jobs: &self.jobs,
            masters: &self.masters,
            geography: &self.geography,
            feature_names: &self.feature_names,
            signer: &self.signer,
            settings: &self.settings,
        });
        fill_links(&mut view, &self.signer, &self.settings);
        view
    }

    fn view(&self, case: &Case) -> EmailView {
        self.view_on(case, D)
    }

    fn render(&self, case: &Case) -> RenderedEmail {
        let view = self.view(case);
        load_renderer(&self.settings).render(&view, case.user.user_id.as_str())
    }
}

/// One user's email inputs.
struct Case {
    user: User,
    location: Location,
    picks: Vec<StoredPick>,
}

fn pick(section: u8, rank: usize, job_index: usize, tier: u8, reasons: &[Reason]) -> StoredPick {
    let total = 0.95 - 0.01 * job_index as f64;
    StoredPick {
        section,
        rank: rank as u8,
        job_id: job_id(job_index),
        tier,
        personalized: total * 0.8,
        basic: total * 0.6,
        seo: 0.1,
        total,
        editorial: if section == EDITORIAL { 0.9 } else { 0.0 },
        reasons: reasons.iter().fold(0, |bits, r| bits | r.bit()),
    }
}

/// The reasons a pick of `section` (number `k` of the email) gives.
fn reasons(section: u8, k: usize) -> Vec<Reason> {
    let mut reasons = match section {
        EDITORIAL => vec![Reason::Featured],
        TOP5 => vec![Reason::FavouriteOccupation],
        REGIONAL => vec![Reason::HomeArea],
        NEARBY => vec![Reason::NearbyArea],
        HIGH_INCOME => vec![Reason::HighWage],
        _ => vec![Reason::New],
    };
    if k.is_multiple_of(3) {
        reasons.push(Reason::DailyPay);
    }
    if k.is_multiple_of(4) {
        reasons.push(Reason::WageAsWanted);
    }
    reasons
}

/// Picks of `counts` per section, in section order, the `k`-th on job `job_of(k)`.
fn picks(
    counts: &[(u8, usize)],
    tier_of: impl Fn(u8, usize) -> u8,
    job_of: impl Fn(usize) -> usize,
) -> Vec<StoredPick> {
    let mut out = Vec::new();
    let mut k = 0;
    for &(section, count) in counts {
        for rank in 1..=count {
            out.push(pick(
                section,
                rank,
                job_of(k),
                tier_of(section, rank),
                &reasons(section, k),
            ));
            k += 1;
        }
    }
    out
}

/// (a) 直己 in 東京都小金井市: 40 picks over the six sections, from the first 40 jobs,
/// given in reverse order (the email orders them by section and rank).
fn full_case() -> Case {
    let mut picks = picks(
        &FULL_SECTIONS,
        |section, rank| match section {
            EDITORIAL | TOP5 => ALL,
            REGIONAL => PREFECTURE,
            NEARBY => CITY,
            HIGH_INCOME if rank > 5 => REGION,
            _ => PREFECTURE,
        },
        |k| (k * 17) % 40,
    );
    picks.reverse();
    Case {
        user: user("user-0001", Some("直己"), Some(13), Some(13210)),
        location: Location {
            pref_cd: Some(13),
            city_cd: Some(13210),
            inferred: false,
        },
        picks,
    }
}

/// (b) No name, no location: 40 picks from jobs 20..60, location tiers all "all".
fn anonymous_case() -> Case {
    Case {
        user: user("user-0002", None, None, None),
        location: Location::default(),
        picks: picks(
            &FULL_SECTIONS,
            |section, _| match section {
                HIGH_INCOME | NEW => ANYWHERE,
                _ => ALL,
            },
            |k| 20 + (k * 13) % 40,
        ),
    }
}

/// (c) 花子, whose prefecture (沖縄県) is inferred and who has no city: few local jobs, so
/// the regional and nearby sections fell back to "all", high_income is empty and new has
/// one pick.
fn fallback_case() -> Case {
    let counts = [
        (EDITORIAL, 5),
        (TOP5, 5),
        (REGIONAL, 7),
        (NEARBY, 2),
        (NEW, 1),
    ];
    Case {
        user: user("user-0003", Some("花子"), None, None),
        location: Location {
            pref_cd: Some(47),
            city_cd: None,
            inferred: true,
        },
        picks: picks(
            &counts,
            |section, rank| match section {
                EDITORIAL | TOP5 => ALL,
                REGIONAL if rank <= 3 => PREFECTURE,
                _ => ALL,
            },
            |k| 40 + k,
        ),
    }
}

fn all_cases() -> [Case; 3] {
    [full_case(), anonymous_case(), fallback_case()]
}

// ---------------------------------------------------------------------------------------
// HTML helpers

fn parse_html(html: &str) -> RcDom {
    html5ever::parse_document(RcDom::default(), Default::default())
        .from_utf8()
        .read_from(&mut html.as_bytes())
        .expect("reading from memory does not fail")
}

#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every element of the document, in document order, attribute values decoded.
fn elements(handle: &Handle, out: &mut Vec<Element>) {
    if let NodeData::Element { name, attrs, .. } = &handle.data {
        out.push(Element {
            name: name.local.to_string(),
            attrs: attrs
                .borrow()
                .iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect(),
        });
    }
    for child in handle.children.borrow().iter() {
        elements(child, out);
    }
}

/// The text a reader sees, entities decoded, a line break after each block.
fn text_content(handle: &Handle, out: &mut String) {
    match &handle.data {
        NodeData::Text { contents } => out.push_str(&contents.borrow()),
        NodeData::Element { .. } | NodeData::Document => {
            for child in handle.children.borrow().iter() {
                text_content(child, out);
            }
            if let NodeData::Element { name, .. } = &handle.data
                && matches!(&*name.local, "p" | "td" | "div" | "title" | "tr" | "br")
            {
                out.push('\n');
            }
        }
        _ => {}
    }
}

fn dom_elements(html: &str) -> Vec<Element> {
    let dom = parse_html(html);
    let mut out = Vec::new();
    elements(&dom.document, &mut out);
    out
}

fn dom_text(html: &str) -> String {
    let dom = parse_html(html);
    let mut out = String::new();
    text_content(&dom.document, &mut out);
    out
}

/// The query parameters of a URL, in order.
fn query(url: &str) -> Vec<(String, String)> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// 06:00 in Tokyo on D, when the email goes out (Unix seconds).
fn send_time() -> i64 {
    D.at(6, 0, 0, 0)
        .in_tz("Asia/Tokyo")
        .expect("Tokyo is known")
        .timestamp()
        .as_second()
}

// ---------------------------------------------------------------------------------------
// 1. Snapshots

fn assert_email_snapshots(name: &str, case: &Case) {
    let world = World::new();
    let rendered = world.render(case);
    assert!(
        rendered.template_errors.is_empty(),
        "{:?}",
        rendered.template_errors
    );
    insta::assert_snapshot!(format!("{name}_html"), rendered.html);
    insta::assert_snapshot!(
        format!("{name}_text"),
        format!("Subject: {}\n\n{}", rendered.subject, rendered.text)
    );
}

#[test]
fn the_email_of_a_named_user_with_a_city_matches_its_snapshot() {
    assert_email_snapshots("full_location", &full_case());
}

#[test]
fn the_email_of_a_user_without_name_or_location_matches_its_snapshot() {
    assert_email_snapshots("anonymous", &anonymous_case());
}

#[test]
fn the_email_of_a_user_whose_sections_fell_back_matches_its_snapshot() {
    assert_email_snapshots("fallback_tiers", &fallback_case());
}

// ---------------------------------------------------------------------------------------
// 2. Valid HTML, nothing loaded or linked from elsewhere

#[test]
fn the_html_parses_without_errors_and_refers_only_to_the_tracking_server() {
    // The parser does report errors (so an empty list means something).
    assert!(
        !parse_html("<!DOCTYPE html><p><table><tr><td>x</p></b>")
            .errors
            .borrow()
            .is_empty()
    );
    let world = World::new();
    for case in all_cases() {
        let rendered = world.render(&case);
        let dom = parse_html(&rendered.html);
        assert_eq!(
            dom.errors.borrow().clone(),
            Vec::<std::borrow::Cow<'static, str>>::new(),
            "HTML5 parse errors for {}",
            case.user.user_id.as_str()
        );
        let mut all = Vec::new();
        elements(&dom.document, &mut all);
        let forbidden = [
            "link", "script", "iframe", "frame", "object", "embed", "video", "audio", "source",
            "base", "form", "style", "svg",
        ];
        for element in &all {
            assert!(
                !forbidden.contains(&element.name.as_str()),
                "<{}> in the email",
                element.name
            );
            for (name, value) in &element.attrs {
                if name == "style" {
                    assert!(
                        !value.to_ascii_lowercase().contains("url("),
                        "a style loads a resource: {value}"
                    );
                }
                if ["background", "srcset", "poster", "action", "data", "lowsrc"]
                    .contains(&name.as_str())
                {
                    panic!("<{} {name}={value:?}> loads a resource", element.name);
                }
                if name == "href" {
                    assert_eq!(element.name, "a", "href on <{}>", element.name);
                }
                if name == "src" {
                    assert_eq!(element.name, "img", "src on <{}>", element.name);
                }
            }
        }
        let images: Vec<&Element> = all.iter().filter(|e| e.name == "img").collect();
        assert_eq!(images.len(), 1, "only the open pixel");
        let src = images[0].attr("src").expect("the pixel has a src");
        assert!(
            src.starts_with(&format!("{BASE}/")) && src.contains("/t/o/"),
            "{src}"
        );
        let links: Vec<&str> = all
            .iter()
            .filter(|e| e.name == "a")
            .map(|e| e.attr("href").expect("every <a> has an href"))
            .collect();
        assert!(!links.is_empty());
        for href in links {
            assert!(href.starts_with(&format!("{BASE}/")), "{href}");
        }
    }
}

#[test]
fn job_data_is_escaped_in_the_html_and_kept_verbatim_in_the_text() {
    let world = World::new();
    let rendered = world.render(&full_case());
    // Job 1's company is `A&B <フーズ> 株式会社`.
    assert!(!rendered.html.contains("<フーズ>"));
    assert!(rendered.html.contains("A&amp;B &lt;フーズ&gt; 株式会社"));
    assert!(dom_text(&rendered.html).contains("A&B <フーズ> 株式会社"));
    assert!(rendered.text.contains("   A&B <フーズ> 株式会社\n"));
    assert!(
        !rendered.text.contains("&amp;"),
        "no HTML escapes in the text"
    );
}

#[test]
fn user_supplied_text_is_still_escaped_while_links_keep_their_slashes() {
    let world = World::new();
    let case = full_case();
    let mut view = world.view(&case);
    let hostile = "<script>alert(\"x\")</script> & 'quoted' /path";
    view.sections[0].jobs[0].title = hostile.to_owned();
    view.sections[0].jobs[0].company = "\"><img src=x onerror=alert(1)>".to_owned();
    view.sender_name = "O'Brien & <Co>".to_owned();
    let rendered = load_renderer(&world.settings).render(&view, case.user.user_id.as_str());
    assert!(!rendered.html.contains("<script>"));
    assert!(!rendered.html.contains("<img src=x"));
    assert!(rendered.html.contains(
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39; /path"
    ));
    assert!(
        rendered
            .html
            .contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")
    );
    assert!(rendered.html.contains("O&#39;Brien &amp; &lt;Co&gt;"));
    // A parser reads the text back as it was given, and finds no element it brought.
    let text = dom_text(&rendered.html);
    assert!(text.contains(hostile), "{text}");
    assert!(text.contains("\"><img src=x onerror=alert(1)>"));
    let images = dom_elements(&rendered.html)
        .into_iter()
        .filter(|e| e.name == "img" || e.name == "script")
        .count();
    assert_eq!(images, 1, "only the open pixel");
    // The text part escapes nothing.
    assert!(rendered.text.contains(hostile));
}

#[test]
fn every_link_of_the_html_is_written_plainly() {
    let world = World::new();
    let rendered = world.render(&full_case());
    assert!(!rendered.html.contains("&#x2f;"), "no / written as &#x2f;");
    assert!(!rendered.html.contains("&#x"), "no numeric escapes at all");
    let attributes: Vec<&str> = rendered
        .html
        .match_indices(" href=\"")
        .chain(rendered.html.match_indices(" src=\""))
        .map(|(start, _)| {
            let value = &rendered.html[start + 1..];
            let end = value[value.find('"').unwrap() + 1..].find('"').unwrap();
            &value[..value.find('"').unwrap() + end + 2]
        })
        .collect();
    assert!(attributes.len() > 40, "{} links", attributes.len());
    for attribute in &attributes {
        let url = attribute.split('"').nth(1).unwrap();
        assert!(url.starts_with(&format!("{BASE}/")), "{attribute}");
    }
    insta::assert_snapshot!("plain_links", attributes.join("\n"));
}

// ---------------------------------------------------------------------------------------
// 3. Tracked links

#[test]
fn every_job_link_carries_a_verifying_click_token_and_utm_parameters() {
    let world = World::new();
    for case in all_cases() {
        let user_id = case.user.user_id.as_str();
        let view = world.view(&case);
        let rendered = load_renderer(&world.settings).render(&view, user_id);
        let all = dom_elements(&rendered.html);
        let hrefs: Vec<&str> = all
            .iter()
            .filter(|e| e.name == "a")
            .filter_map(|e| e.attr("href"))
            .collect();
        let click_prefix = format!("{BASE}/t/c/");
        // A job may be linked more than once in a row (title and button): one per job.
        let mut job_links: Vec<&str> = hrefs
            .iter()
            .copied()
            .filter(|h| h.starts_with(&click_prefix))
            .collect();
        job_links.dedup();

        // The picks in section and rank order.
        let mut expected: Vec<(u8, u8, u64)> = case
            .picks
            .iter()
            .map(|p| (p.section, p.rank, p.job_id))
            .collect();
        expected.sort();
        let section_keys = [
            "editorial",
            "top5",
            "regional",
            "nearby",
            "high_income",
            "new",
        ];
        assert_eq!(job_links.len(), expected.len(), "{user_id}");
        let text_links: Vec<&str> = rendered
            .text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("応募する: "))
            .collect();
        assert_eq!(text_links.len(), expected.len(), "{user_id}");
        for (i, &(section, _, job)) in expected.iter().enumerate() {
            let link = job_links[i];
            assert_eq!(link, text_links[i], "HTML and text agree");
            let (path, _) = link.split_once('?').expect("UTM parameters");
            let token = &path[click_prefix.len()..];
            let claims = world
                .signer
                .verify(token, Purpose::Click, send_time())
                .unwrap_or_else(|e| panic!("{link}: {e}"));
            assert_eq!(claims.user_id, user_id);
            assert_eq!(claims.job_id, job);
            assert_eq!(claims.date, "2025-11-25");
            assert!(
                claims.expires_at > send_time() + 30 * 86_400,
                "valid for weeks"
            );
            let params: BTreeMap<String, String> = query(link).into_iter().collect();
            assert!(
                params.get("utm_source").is_some_and(|s| !s.is_empty()),
                "{link}"
            );
            assert_eq!(params.get("utm_medium").map(String::as_str), Some("email"));
            let campaign = params.get("utm_campaign").expect("utm_campaign");
            assert!(campaign.contains("20251125"), "{campaign}");
            assert_eq!(
                params.get("utm_content").map(String::as_str),
                Some(section_keys[section as usize]),
                "{link}"
            );
        }

        // Besides the job links, only the unsubscribe link.
        let others: Vec<&str> = hrefs
            .iter()
            .copied()
            .filter(|h| !h.starts_with(&click_prefix))
            .collect();
        assert_eq!(others, vec![rendered.unsubscribe_url.as_str()]);
        let unsubscribe_token = rendered
            .unsubscribe_url
            .strip_prefix(&format!("{BASE}/u/"))
            .expect("the unsubscribe URL is on the server");
        let claims = world
            .signer
            .verify(unsubscribe_token, Purpose::Unsubscribe, send_time())
            .expect("the unsubscribe token verifies");
        assert_eq!(claims.user_id, user_id);
        assert_eq!(claims.job_id, 0);
        assert!(
            world
                .signer
                .verify(unsubscribe_token, Purpose::Click, send_time())
                .is_err()
        );
        assert!(
            rendered
                .text
                .contains(&format!("配信停止: {}", rendered.unsubscribe_url))
        );

        // The open pixel.
        let src = all
            .iter()
            .find(|e| e.name == "img")
            .and_then(|e| e.attr("src"))
            .expect("the pixel");
        let open_token = src
            .strip_prefix(&format!("{BASE}/t/o/"))
            .and_then(|t| t.strip_suffix(".gif"))
            .expect("the pixel URL");
        let claims = world
            .signer
            .verify(open_token, Purpose::Open, send_time())
            .expect("the open token verifies");
        assert_eq!(claims.user_id, user_id);
    }
}

#[test]
fn links_signed_under_another_key_do_not_verify() {
    let world = World::new();
    let rendered = world.render(&full_case());
    let token = rendered
        .unsubscribe_url
        .strip_prefix(&format!("{BASE}/u/"))
        .unwrap();
    let other = TokenSigner::new(b"another-key-of-thirty-two-bytes!");
    assert!(
        other
            .verify(token, Purpose::Unsubscribe, send_time())
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------
// 4. Subjects

/// ~200 users: every kind of location (none, prefecture only, prefecture and city, the
/// longest built-in names, invented very long city names), with and without names, with
/// 0 to 40 picks of varied themes.
fn subject_world_and_cases() -> (World, Vec<Case>) {
    let mut world = World::new();
    let long_cities = [
        (
            46,
            99_001,
            "薩摩川内市大字東郷町斧渕字上ノ原地区振興会館前停留所付近一帯の集落",
        ),
        (
            1,
            99_002,
            "余市郡余市町大字黒川町字ニッカウヰスキー北海道工場前通り沿い商店街",
        ),
        (
            13,
            99_003,
            "小笠原村父島字東町大村地区母島沖港周辺地域及び硫黄島南鳥島沖ノ鳥島",
        ),
        (30, 99_004, "紀の川市"),
    ];
    for (pref, city, name) in long_cities {
        world.geography.city_names.insert(city, name.to_owned());
        world.geography.city_pref.insert(city, pref);
    }
    let mut cities: Vec<(u16, u32, usize)> = world
        .geography
        .city_names
        .iter()
        .map(|(&city, name)| {
            let pref = world.geography.city_pref.get(&city).copied().unwrap_or(0);
            let pref_len = world
                .geography
                .pref_names
                .get(&pref)
                .map_or(0, |n| n.chars().count());
            (pref, city, pref_len + name.chars().count())
        })
        .collect();
    // Longest names first, then by code: deterministic.
    cities.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
    let names = [
        None,
        Some("直己"),
        Some("寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末"),
        Some("Alexander Maximilian von Habsburg-Lothringen"),
        Some("  "),
    ];
    let mut cases = Vec::new();
    let mut located = 0;
    for i in 0..200usize {
        let (location, pref, city) = match i % 5 {
            0 => (Location::default(), None, None),
            1 => {
                let pref = (i % 47) as u16 + 1;
                (
                    Location {
                        pref_cd: Some(pref),
                        city_cd: None,
                        inferred: false,
                    },
                    Some(pref),
                    None,
                )
            }
            _ => {
                let (pref, city, _) = cities[located % cities.len()];
                located += 1;
                (
                    Location {
                        pref_cd: Some(pref),
                        city_cd: Some(city),
                        inferred: i.is_multiple_of(2),
                    },
                    Some(pref),
                    Some(city),
                )
            }
        };
        let n = (i * 7) % 41;
        let counts: Vec<(u8, usize)> = FULL_SECTIONS
            .iter()
            .scan(n, |left, &(section, count)| {
                let take = count.min(*left);
                *left -= take;
                Some((section, take))
            })
            .collect();
        let picks = picks(&counts, |_, _| ALL, |k| (i + k * 11) % N_JOBS)
            .into_iter()
            .enumerate()
            .map(|(k, mut p)| {
                // Vary the strongest theme between users.
                if (i + k).is_multiple_of(3) {
                    p.reasons |= Reason::ALL[(i / 3) % Reason::ALL.len()].bit();
                }
                p
            })
            .collect();
        cases.push(Case {
            user: user(
                &format!("subject-user-{i:03}"),
                names[i % names.len()],
                pref,
                city,
            ),
            location,
            picks,
        });
    }
    (world, cases)
}

fn subject_of(world: &World, case: &Case, date: Date) -> (String, EmailView) {
    let view = world.view_on(case, date);
    let renderer = load_renderer(&world.settings);
    (
        renderer.render(&view, case.user.user_id.as_str()).subject,
        view,
    )
}

/// Which of the rule-based templates a subject came from, by its opening.
fn template_kind(subject: &str) -> char {
    subject.chars().next().unwrap_or(' ')
}

#[test]
fn subjects_are_at_most_50_characters_deterministic_and_name_the_date_place_or_theme() {
    let (world, cases) = subject_world_and_cases();
    let mut kinds_on_d = HashSet::new();
    let mut users_changing_template = 0;
    let mut longest = 0;
    for case in &cases {
        let (subject, view) = subject_of(&world, case, D);
        let chars = subject.chars().count();
        longest = longest.max(chars);
        assert!(chars <= 50, "{chars} characters: {subject}");
        assert!(!subject.is_empty());
        assert!(
            !subject.chars().any(char::is_control),
            "no control characters: {subject:?}"
        );
        let theme = view.themes.first().map_or("おすすめ", String::as_str);
        let names_something = subject.contains("11/25")
            || (!view.location_label.is_empty() && subject.contains(&view.location_label))
            || subject.contains(theme);
        assert!(names_something, "{subject} ({view:?})");

        // Deterministic: the same user and date give the same subject, from a new renderer.
        let (again, _) = subject_of(&world, case, D);
        assert_eq!(subject, again);

        kinds_on_d.insert(template_kind(&subject));
        let kinds: HashSet<char> = (0..7)
            .map(|days| {
                let date = D.checked_add(jiff::Span::new().days(days)).unwrap();
                template_kind(&subject_of(&world, case, date).0)
            })
            .collect();
        if kinds.len() > 1 {
            users_changing_template += 1;
        }
    }
    assert!(longest > 20, "the set has long subjects: {longest}");
    assert!(
        kinds_on_d.len() >= 3,
        "users get different templates: {kinds_on_d:?}"
    );
    assert!(
        users_changing_template > cases.len() / 2,
        "templates change with the date: {users_changing_template} of {}",
        cases.len()
    );
}

#[test]
fn the_subject_of_a_located_user_names_the_date_or_the_place() {
    let world = World::new();
    let case = full_case();
    let (subject, view) = subject_of(&world, &case, D);
    assert_eq!(view.location_label, "東京都小金井市");
    assert!(
        subject.contains("11/25") || subject.contains("東京都小金井市"),
        "{subject}"
    );
    assert!(subject.contains("40"), "the number of jobs: {subject}");
}

// ---------------------------------------------------------------------------------------
// 5. Template overrides

fn builtin_rendering(world: &World, case: &Case) -> RenderedEmail {
    world.render(case)
}

fn render_with_templates(world: &World, case: &Case, files: &[(&str, &str)]) -> RenderedEmail {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, source) in files {
        std::fs::write(dir.path().join(name), source).expect("template written");
    }
    let settings = EmailSettings {
        templates_dir: Some(dir.path().to_owned()),
        ..world.settings.clone()
    };
    let view = world.view(case);
    load_renderer(&settings).render(&view, case.user.user_id.as_str())
}

#[test]
fn an_override_html_template_escapes_the_same_way_with_e_join_and_safe() {
    let world = World::new();
    let case = full_case();
    let custom = "<a href='{{ unsubscribe_url }}'>{{ sender_name | e }}</a>\
                  <p>{{ sections[0].jobs[0].tags | join(' / ') }}</p>\
                  <p>{{ '<b>kept</b>' | safe }} {{ \"O'Neil & <i>\" }}</p>";
    let rendered = render_with_templates(&world, &case, &[("newsletter.html.j2", custom)]);
    assert_eq!(rendered.template_errors, Vec::<String>::new());
    assert!(
        rendered.html.starts_with(&format!(
            "<a href='{}'>バイト通信 編集部</a>",
            rendered.unsubscribe_url
        )),
        "{}",
        rendered.html
    );
    assert!(rendered.unsubscribe_url.starts_with(&format!("{BASE}/u/")));
    assert!(rendered.html.contains(" / "), "the joiner keeps its slash");
    assert!(
        rendered
            .html
            .contains("<b>kept</b> O&#39;Neil &amp; &lt;i&gt;"),
        "{}",
        rendered.html
    );
    assert!(!rendered.html.contains("&#x"));
}

#[test]
fn an_override_text_template_is_used_while_the_builtin_html_stays() {
    let world = World::new();
    let case = full_case();
    let builtin = builtin_rendering(&world, &case);
    let custom = "カスタム本文 {{ greeting }}\n{% for section in sections %}【{{ section.title }}】{{ section.jobs | length }}件\n{% endfor %}配信停止: {{ unsubscribe_url }}\n";
    let rendered = render_with_templates(&world, &case, &[("newsletter.txt.j2", custom)]);
    assert_eq!(rendered.template_errors, Vec::<String>::new());
    assert!(
        rendered
            .text
            .starts_with("カスタム本文 直己 様（東京都小金井市）\n【編集部おすすめ】5件\n"),
        "{}",
        rendered.text
    );
    assert!(rendered.text.contains("【小金井市周辺】8件"));
    assert_eq!(rendered.html, builtin.html);
    assert_eq!(rendered.subject, builtin.subject);
    assert_eq!(rendered.unsubscribe_url, builtin.unsubscribe_url);
}

#[test]
fn a_broken_override_falls_back_to_the_builtin_templates_and_names_template_and_line() {
    let world = World::new();
    let case = full_case();
    let builtin = builtin_rendering(&world, &case);
    let broken = "1行目 {{ greeting }}\n2行目\n{% for x in %}\n{{ x }}\n{% endfor %}\n";
    let rendered = render_with_templates(
        &world,
        &case,
        &[
            ("newsletter.txt.j2", broken),
            ("newsletter.html.j2", "<p>custom {{ greeting }}</p>"),
        ],
    );
    assert_eq!(rendered.html, builtin.html);
    assert_eq!(rendered.text, builtin.text);
    assert_eq!(
        rendered.template_errors.len(),
        1,
        "{:?}",
        rendered.template_errors
    );
    let error = &rendered.template_errors[0];
    assert!(error.contains("newsletter.txt.j2"), "{error}");
    assert!(error.contains("line 3"), "{error}");
}

#[test]
fn an_override_failing_while_rendering_falls_back_with_the_error_recorded() {
    let world = World::new();
    let case = full_case();
    let builtin = builtin_rendering(&world, &case);
    let failing = "<!DOCTYPE html>\n<p>{{ greeting }}</p>\n<p>{{ \"abc\" | int }}</p>\n";
    let rendered = render_with_templates(&world, &case, &[("newsletter.html.j2", failing)]);
    assert_eq!(rendered.html, builtin.html);
    assert_eq!(rendered.text, builtin.text);
    assert_eq!(
        rendered.template_errors.len(),
        1,
        "{:?}",
        rendered.template_errors
    );
    let error = &rendered.template_errors[0];
    assert!(error.contains("newsletter.html.j2"), "{error}");
    assert!(error.contains("line 3"), "{error}");
}

#[test]
fn an_empty_override_directory_changes_nothing() {
    let world = World::new();
    let case = full_case();
    let builtin = builtin_rendering(&world, &case);
    let rendered = render_with_templates(&world, &case, &[]);
    assert_eq!(rendered, builtin);
}

// ---------------------------------------------------------------------------------------
// 6. The stored form

#[test]
fn a_packed_view_unpacks_to_byte_identical_bodies_and_is_small() {
    let world = World::new();
    for case in all_cases() {
        let user_id = case.user.user_id.as_str();
        let view = world.view(&case);
        let original = load_renderer(&world.settings).render(&view, user_id);
        let packed = pack_view(&view);
        // As the sender does it: another process, the same key and settings.
        let signer = TokenSigner::new(KEY);
        let unpacked =
            unpack_view(&packed, &signer, &world.settings, user_id).expect("the view unpacks");
        let again = load_renderer(&world.settings).render(&unpacked, user_id);
        assert_eq!(again.html, original.html, "{user_id}");
        assert_eq!(again.text, original.text, "{user_id}");
        assert_eq!(again.unsubscribe_url, original.unsubscribe_url);
        // Straight from the bytes (the sender's path): the same email, subject included.
        let from_bytes = load_renderer(&world.settings)
            .render_packed(&packed, &signer, &world.settings, user_id)
            .expect("the view renders from its bytes");
        assert_eq!(from_bytes, again, "{user_id}");
        assert!(
            packed.len() * 4 < original.html.len(),
            "{user_id}: {} bytes packed, {} bytes of HTML",
            packed.len(),
            original.html.len()
        );
    }
}

#[test]
fn a_corrupted_stored_view_is_an_error_naming_the_user() {
    let world = World::new();
    let view = world.view(&full_case());
    let mut packed = pack_view(&view);
    packed.truncate(packed.len() / 2);
    let error = unpack_view(&packed, &world.signer, &world.settings, "user-0001")
        .expect_err("a truncated view does not unpack");
    assert_eq!(error.user_id, "user-0001");
    let error = load_renderer(&world.settings)
        .render_packed(&packed, &world.signer, &world.settings, "user-0001")
        .expect_err("a truncated view does not render");
    assert_eq!(error.user_id, "user-0001");
}

// ---------------------------------------------------------------------------------------
// 7. The RFC 5322 message

/// Headers unfolded, as (name, value); and the body.
fn split_message(raw: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .expect("a blank line ends the headers");
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let headers = unfolded
        .split("\r\n")
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.to_owned(), value.trim().to_owned())
        })
        .collect();
    (headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=` / `=?utf-8?q?…?=`); whitespace between
/// adjacent encoded words is dropped.
fn decode_encoded_words(value: &str) -> String {
    let mut out = Vec::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some(start) = rest.find("=?") {
            let between = &rest[..start];
            if !(last_was_word && between.trim().is_empty()) {
                out.extend_from_slice(between.as_bytes());
            }
            let word = &rest[start + 2..];
            let mut parts = word.splitn(3, '?');
            let _charset = parts.next().unwrap();
            let encoding = parts.next().unwrap().to_ascii_lowercase();
            let tail = parts.next().unwrap();
            let end = tail.find("?=").expect("an encoded word ends");
            let text = &tail[..end];
            if encoding == "b" {
                out.extend(STANDARD.decode(text).expect("base64"));
            } else {
                out.extend(decode_quoted_printable(&text.replace('_', " ")));
            }
            rest = &tail[end + 2..];
            last_was_word = true;
        } else {
            out.extend_from_slice(rest.as_bytes());
            rest = "";
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
            } else if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
            } else {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The decoded parts of a multipart body: (content type, text).
fn parts(body: &str, boundary: &str) -> Vec<(String, String)> {
    let delimiter = format!("--{boundary}");
    body.split(&delimiter)
        .skip(1)
        .take_while(|part| !part.starts_with("--"))
        .map(|part| {
            let part = part.trim_start_matches("\r\n");
            let (headers, content) = split_message(part);
            let content_type = header(&headers, "Content-Type")[0].to_owned();
            let encoding = header(&headers, "Content-Transfer-Encoding")
                .first()
                .map(|e| e.to_ascii_lowercase())
                .unwrap_or_default();
            let content = content.strip_suffix("\r\n").unwrap_or(content);
            let decoded = match encoding.as_str() {
                "base64" => STANDARD
                    .decode(content.replace("\r\n", ""))
                    .expect("base64 body"),
                "quoted-printable" => decode_quoted_printable(content),
                _ => content.as_bytes().to_vec(),
            };
            let text = String::from_utf8(decoded)
                .expect("UTF-8 body")
                .replace("\r\n", "\n");
            (content_type, text)
        })
        .collect()
}

#[test]
fn the_message_has_one_click_unsubscribe_headers_and_text_and_html_alternatives() {
    let world = World::new();
    let rendered = world.render(&full_case());
    let date = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_764_018_000);
    let message = build_message(
        &rendered,
        "to@example.com",
        &world.settings,
        "20251125.user-0001",
        date,
    )
    .expect("the message builds");
    let again = build_message(
        &rendered,
        "to@example.com",
        &world.settings,
        "20251125.user-0001",
        date,
    )
    .unwrap();
    assert_eq!(
        message.formatted(),
        again.formatted(),
        "the same email gives the same bytes"
    );
    let bytes = message.formatted();
    let raw = String::from_utf8(bytes).expect("a message is 7-bit text");
    assert!(raw.is_ascii(), "8-bit data in the message");
    for line in raw.split("\r\n") {
        assert!(
            line.len() <= 998,
            "RFC 5322 line limit: {} octets",
            line.len()
        );
    }
    let (headers, body) = split_message(&raw);

    let unsubscribe = header(&headers, "List-Unsubscribe");
    assert_eq!(unsubscribe.len(), 1, "{headers:?}");
    assert!(rendered.unsubscribe_url.starts_with("https://"));
    assert!(
        unsubscribe[0].contains(&format!("<{}>", rendered.unsubscribe_url)),
        "{}",
        unsubscribe[0]
    );
    assert!(
        unsubscribe[0].contains("<mailto:news@mail.example.jp"),
        "{}",
        unsubscribe[0]
    );
    assert_eq!(
        header(&headers, "List-Unsubscribe-Post"),
        vec!["List-Unsubscribe=One-Click"]
    );

    let subject = header(&headers, "Subject");
    assert_eq!(subject.len(), 1);
    assert_eq!(decode_encoded_words(subject[0]), rendered.subject);
    assert!(header(&headers, "From")[0].contains("<news@mail.example.jp>"));
    assert_eq!(header(&headers, "To"), vec!["to@example.com"]);
    assert!(header(&headers, "Message-ID")[0].contains("20251125.user-0001"));
    assert_eq!(header(&headers, "MIME-Version"), vec!["1.0"]);
    assert_eq!(
        header(&headers, "Date").len(),
        1,
        "RFC 5322 requires a date"
    );

    let content_type = header(&headers, "Content-Type")[0];
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"');
    let parts = parts(body, boundary);
    assert_eq!(parts.len(), 2);
    // The preferred (HTML) part last (RFC 2046 §5.1.4).
    assert!(parts[0].0.starts_with("text/plain"), "{}", parts[0].0);
    assert!(parts[0].0.to_ascii_lowercase().contains("charset=utf-8"));
    assert!(parts[1].0.starts_with("text/html"), "{}", parts[1].0);
    assert!(parts[1].0.to_ascii_lowercase().contains("charset=utf-8"));
    assert_eq!(parts[0].1, rendered.text.replace("\r\n", "\n"));
    assert_eq!(parts[1].1, rendered.html.replace("\r\n", "\n"));
}

// ---------------------------------------------------------------------------------------
// 8. What the body shows

#[test]
fn the_html_shows_footer_greeting_section_titles_and_trimmed_titles() {
    let world = World::new();
    let rendered = world.render(&full_case());
    let text = dom_text(&rendered.html);
    for expected in [
        "今日のバイト厳選便",
        "11月25日(火)",
        "直己 様（東京都小金井市）",
        "バイト通信 編集部",
        "〒184-0004 東京都小金井市本町6-5-3 テストビル2F 株式会社バイト通信",
        "編集部おすすめ",
        "あなたにおすすめ",
        "東京都のおすすめ",
        "小金井市周辺",
        "高収入・日払い",
        "新着",
        "40件",
        "配信停止",
    ] {
        assert!(text.contains(expected), "{expected} missing from the HTML");
        assert!(
            rendered.text.contains(expected),
            "{expected} missing from the text"
        );
    }
    let section_titles: Vec<&str> = rendered
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("■ "))
        .collect();
    assert_eq!(
        section_titles,
        [
            "編集部おすすめ",
            "あなたにおすすめ",
            "東京都のおすすめ",
            "小金井市周辺",
            "高収入・日払い",
            "新着"
        ]
    );

    // Titles: trimmed to 40 characters with "…", or whole when they fit.
    let trimmed_long: String = LONG_TITLE.chars().take(39).chain(['…']).collect();
    let trimmed_41: String = TITLE_41.chars().take(39).chain(['…']).collect();
    assert_eq!(TITLE_40.chars().count(), 40);
    assert_eq!(TITLE_41.chars().count(), 41);
    for body in [&text, &rendered.text] {
        assert!(body.contains(&trimmed_long));
        assert!(!body.contains(LONG_TITLE));
        assert!(body.contains(&trimmed_41));
        assert!(!body.contains(TITLE_41));
        assert!(body.contains(&format!("{TITLE_40}\n")), "kept whole");
    }
    let view = world.view(&full_case());
    for job in view.sections.iter().flat_map(|s| &s.jobs) {
        assert!(job.title.chars().count() <= 40, "{}", job.title);
        assert!(text.contains(&job.title), "{}", job.title);
    }

    // Up to 3 feature tags, only enabled known features (job 1: four codes).
    assert!(
        rendered
            .text
            .contains("特徴: 学歴不問 / オープニングスタッフ / 週1日からOK\n")
    );
    assert!(!rendered.text.contains("長期歓迎"));
    assert!(rendered.text.contains("特徴: 高収入 / 交通費支給\n"));
    assert!(!rendered.text.contains("英語を活かす"));
}

#[test]
fn hours_line_breaks_become_slashes_and_no_markup_from_job_data_reaches_the_text() {
    let world = World::new();
    let rendered = world.render(&full_case());
    let html_text = dom_text(&rendered.html);
    for expected in [
        "10:00〜18:00 / 週2日〜OK",
        "9:00〜17:00 / 実働7時間",
        "17:00〜23:00 / 土日のみOK",
        "シフト制 & 応相談",
    ] {
        assert!(html_text.contains(expected), "{expected} (HTML)");
        assert!(
            rendered.text.contains(&format!("時間: {expected}\n")),
            "{expected} (text)"
        );
    }
    // A long hours text is trimmed, its tags gone.
    assert!(
        rendered
            .text
            .contains("時間: 8:00〜20:00の間で 1日4h〜 / 週3日以上勤務できる方 / ※曜日"),
        "{}",
        rendered.text
    );
    let lower = rendered.text.to_ascii_lowercase();
    for markup in ["<br", "<p>", "</p>", "&amp;", "&lt;", "&gt;", "&#"] {
        assert!(!lower.contains(markup), "{markup} in the text body");
    }
    assert!(
        !html_text.to_ascii_lowercase().contains("<br"),
        "no escaped line break tag from job data shows in the HTML"
    );
}

#[test]
fn hours_line_breaks_in_any_spelling_become_slashes() {
    let mut world = World::new();
    let spellings = ["<BR>", "<Br />", "<br >", "<BR/>", "<br\n>"];
    let mut jobs = JobColumns::new();
    for (i, spelling) in spellings.iter().enumerate() {
        let mut fields = job(i);
        fields.hours = format!("10:00〜18:00{spelling}週2日〜OK");
        jobs.push(fields.job_id.unwrap(), &fields);
    }
    world.jobs = jobs.sorted_by_job_id();
    let case = Case {
        user: user("user-0004", Some("直己"), Some(13), Some(13210)),
        location: Location {
            pref_cd: Some(13),
            city_cd: Some(13210),
            inferred: false,
        },
        picks: (0..spellings.len())
            .map(|i| pick(TOP5, i + 1, i, ALL, &[Reason::HighWage]))
            .collect(),
    };
    let rendered = world.render(&case);
    let hours: Vec<&str> = rendered
        .text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("時間: "))
        .collect();
    assert_eq!(hours, vec!["10:00〜18:00 / 週2日〜OK"; spellings.len()]);
}

#[test]
fn the_nearest_station_shows_even_when_the_place_is_unknown() {
    let mut world = World::new();
    let mut fields = job(0);
    fields.pref_cd = None;
    fields.city_cd = None;
    fields.station_name_eki = "渋谷駅".to_owned();
    let mut jobs = JobColumns::new();
    jobs.push(fields.job_id.unwrap(), &fields);
    world.jobs = jobs;
    let case = Case {
        user: user("user-0005", None, None, None),
        location: Location::default(),
        picks: vec![pick(EDITORIAL, 1, 0, ALL, &[Reason::Featured])],
    };
    let rendered = world.render(&case);
    assert!(rendered.text.contains("渋谷駅"), "{}", rendered.text);
    assert!(dom_text(&rendered.html).contains("渋谷駅"));
}
