//! The links of a real email against the real server: the open pixel, click redirects
//! (to the feed's `url`, or to mailscore's job page), a tampered click token, and
//! unsubscribing by the page and by RFC 8058's one-click post. The links are taken from
//! the email as the daily run stored it, rendered as the sender renders it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailscore::api::{RunningServer, ServeOptions};
use mailscore::domain::action::{ActionSource, ActionType};
use mailscore::domain::batch::EmailStatus;
use mailscore::domain::{TimeZoneSetting, UserId};
use mailscore::ingest::ImportKind;
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::render::{EmailSettings, Renderer};
use mailscore::store::Store;
use mailscore::tokens::Purpose;

use crate::helpers::{TestStore, test_signer};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

pub struct TrackedApp {
    pub addr: SocketAddr,
    server: Option<RunningServer>,
    pub store: Arc<dyn Store>,
    pub date: jiff::civil::Date,
    /// An admin's API token (`/api/*` asks for one; the links of an email do not).
    pub admin: String,
    /// When the server started: actions from then on are the tests' own.
    started: i64,
    t_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// A generated store whose today ran through rendering (links expire: they must be
/// today's), served on a port of its own.
pub async fn spawn_tracked_app() -> TrackedApp {
    let date = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap())
        .date();
    let t = TestStore::with_generated(600, 30, 20, 5, date).await;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.expect("the date runs");
    let TestStore { dir, store } = t;
    let store: Arc<dyn Store> = Arc::new(store);
    let admin = mailscore::service::accounts::create_token(
        store.as_ref(),
        "tracking tests",
        mailscore::domain::account::Role::Admin,
        None,
    )
    .await
    .expect("a token is created")
    .secret;
    let options = ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_path_buf(),
        test_signer(),
    );
    let server = mailscore::api::start(Arc::clone(&store), &options)
        .await
        .expect("the server starts");
    TrackedApp {
        addr: server.local_addr(),
        server: Some(server),
        store,
        date,
        admin,
        started: jiff::Timestamp::now().as_microsecond(),
        t_dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub cache_control: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(CLIENT_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (location, content_type, cache_control) = (
        header("location"),
        header("content-type").unwrap_or_default(),
        header("cache-control"),
    );
    Answer {
        status: response.status().as_u16(),
        location,
        content_type,
        cache_control,
        body: response.body_mut().read_to_vec().unwrap(),
    }
}

/// `GET url` as the app's admin.
pub async fn get_as(url: String, token: &str) -> Answer {
    let bearer = format!("Bearer {token}");
    tokio::task::spawn_blocking(move || {
        answer(
            agent()
                .get(&url)
                .header("authorization", &bearer)
                .call()
                .unwrap(),
        )
    })
    .await
    .unwrap()
}

pub async fn get(url: String) -> Answer {
    tokio::task::spawn_blocking(move || answer(agent().get(&url).call().unwrap()))
        .await
        .unwrap()
}

/// `METHOD url` with a JSON body (or none), with the bearer `token`.
pub async fn send_json(
    method: &'static str,
    url: String,
    body: Option<serde_json::Value>,
    token: &str,
) -> Answer {
    let bearer = format!("Bearer {token}");
    tokio::task::spawn_blocking(move || {
        let agent = agent();
        let response = match (method, body) {
            ("POST", Some(body)) => agent
                .post(&url)
                .header("authorization", &bearer)
                .content_type("application/json")
                .send(body.to_string()),
            ("POST", None) => agent
                .post(&url)
                .header("authorization", &bearer)
                .send_empty(),
            ("DELETE", _) => agent.delete(&url).header("authorization", &bearer).call(),
            _ => agent.get(&url).header("authorization", &bearer).call(),
        };
        answer(response.unwrap())
    })
    .await
    .unwrap()
}

async fn post(url: String, form: &'static str) -> Answer {
    tokio::task::spawn_blocking(move || {
        answer(
            agent()
                .post(&url)
                .content_type("application/x-www-form-urlencoded")
                .send(form)
                .unwrap(),
        )
    })
    .await
    .unwrap()
}

/// The links of one user's stored email, rendered for this server's address.
pub struct Links {
    user_id: String,
    clicks: Vec<String>,
    pub open_pixel: String,
    unsubscribe: String,
}

impl TrackedApp {
    pub async fn links(&self, index: usize) -> Links {
        let emails = self.store.emails(self.date, None).await.unwrap();
        let email = &emails[index];
        let settings = EmailSettings {
            base_url: format!("http://{}", self.addr),
            ..EmailSettings::default()
        };
        let rendered = Renderer::builtin()
            .render_packed(
                &email.content,
                &test_signer(),
                &settings,
                email.user_id.as_str(),
            )
            .unwrap();
        let html = html_escape::decode_html_entities(&rendered.html).into_owned();
        let attribute = |prefix: &str| -> Vec<String> {
            html.split(prefix)
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(str::to_owned)
                .collect()
        };
        let base = format!("http://{}", self.addr);
        let clicks: Vec<String> = attribute("href=\"")
            .into_iter()
            .filter(|u| u.starts_with(&format!("{base}/t/c/")))
            .collect();
        let open_pixel = attribute("src=\"")
            .into_iter()
            .find(|u| u.starts_with(&format!("{base}/t/o/")))
            .expect("the email has its open pixel");
        Links {
            user_id: email.user_id.as_str().to_owned(),
            clicks,
            open_pixel,
            unsubscribe: rendered.unsubscribe_url.clone(),
        }
    }

    /// Stops the server: the group commit writes what it queued.
    /// The data directory.
    pub fn t_dir(&self) -> &std::path::Path {
        &self.t_dir
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }

    async fn actions_of(&self, user_id: &str, action_type: ActionType) -> usize {
        let actions = self
            .store
            .actions_between(self.started, i64::MAX / 2)
            .await
            .unwrap();
        (0..actions.len())
            .filter(|&row| {
                let action = actions.row(row);
                action.user_id == user_id
                    && action.action_type == Some(action_type)
                    && action.source == Some(ActionSource::Email)
            })
            .count()
    }
}

fn token_of(url: &str) -> &str {
    let rest = url.rsplit_once("/t/c/").unwrap().1;
    rest.split('?').next().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn opens_and_clicks_are_recorded_and_a_click_goes_to_the_job_s_own_url() {
    let mut app = spawn_tracked_app().await;
    let links = app.links(0).await;
    assert_eq!(links.clicks.len(), 40, "every pick has its tracked link");

    let pixel = get(links.open_pixel.clone()).await;
    assert_eq!(pixel.status, 200);
    assert_eq!(pixel.content_type, "image/gif");
    assert_eq!(pixel.body.len(), 43);
    assert_eq!(pixel.cache_control.as_deref(), Some("no-store"));

    let first = get(links.clicks[0].clone()).await;
    assert_eq!(first.status, 302, "{}", first.text());
    let location = first.location.expect("a redirect");
    let claims = test_signer()
        .verify(token_of(&links.clicks[0]), Purpose::Click, 0)
        .unwrap();
    let job = app
        .store
        .jobs(&[mailscore::domain::JobId::new(claims.job_id)])
        .await
        .unwrap()
        .pop()
        .flatten()
        .unwrap();
    assert_eq!(Some(location.as_str()), job.value("url"));
    for link in &links.clicks[1..3] {
        assert_eq!(get(link.clone()).await.status, 302);
    }

    app.stop().await;
    assert_eq!(app.actions_of(&links.user_id, ActionType::Click).await, 3);
    assert_eq!(app.actions_of(&links.user_id, ActionType::Open).await, 1);
    let actions = app
        .store
        .actions_between(app.started, i64::MAX / 2)
        .await
        .unwrap();
    let click = (0..actions.len())
        .map(|row| actions.row(row))
        .find(|a| a.action_type == Some(ActionType::Click) && a.job_id == claims.job_id)
        .unwrap();
    assert!(
        click.section.is_some(),
        "the click keeps the link's section"
    );
    assert_eq!(
        click.pref_cd,
        job.value("pref_cd").unwrap().parse::<u16>().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_click_token_records_nothing_and_redirects_nowhere() {
    let mut app = spawn_tracked_app().await;
    let links = app.links(1).await;
    let url = &links.clicks[0];
    let token = token_of(url);
    // One character of the payload changed: the signature no longer matches.
    let mut tampered: Vec<char> = token.chars().collect();
    tampered[3] = if tampered[3] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in [
        url.replace(token, &tampered),
        url.replace(token, "not-a-token"),
    ] {
        let answer = get(bad.clone()).await;
        assert_eq!(answer.status, 404, "{bad}");
        assert_eq!(answer.location, None, "{bad}");
    }
    // No token at all matches no route: refused, and closed like every unknown path.
    let empty = get(format!("http://{}/t/c/", app.addr)).await;
    assert_eq!(empty.status, 401);
    assert_eq!(empty.location, None);
    let pixel = links.open_pixel.replace("/t/o/", "/t/o/x");
    assert_eq!(get(pixel).await.status, 404);
    app.stop().await;
    assert_eq!(app.actions_of(&links.user_id, ActionType::Click).await, 0);
    assert_eq!(app.actions_of(&links.user_id, ActionType::Open).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_without_a_url_goes_to_mailscore_s_own_job_page() {
    let mut app = spawn_tracked_app().await;
    let links = app.links(2).await;
    let claims = test_signer()
        .verify(token_of(&links.clicks[0]), Purpose::Click, 0)
        .unwrap();
    // The same feed again, with that job's url left empty.
    let feed = std::fs::read_to_string(app.t_dir.join("generated/jobs.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(feed.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let (id_at, url_at) = (
        headers.iter().position(|h| h == "job_id").unwrap(),
        headers.iter().position(|h| h == "url").unwrap(),
    );
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut record: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        if record[id_at] == claims.job_id.to_string() {
            record[url_at].clear();
        }
        writer.write_record(&record).unwrap();
    }
    let edited = app.t_dir.join("jobs-no-url.csv");
    std::fs::write(&edited, writer.into_inner().unwrap()).unwrap();
    let options = mailscore::ingest::ImportOptions::new(TimeZoneSetting::tokyo());
    mailscore::ingest::import_file(app.store.as_ref(), ImportKind::Jobs, &edited, &options)
        .await
        .unwrap();

    let answer = get(links.clicks[0].clone()).await;
    assert_eq!(answer.status, 302);
    let location = answer.location.unwrap();
    assert!(location.starts_with("/t/j/"), "{location}");
    let page = get(format!("http://{}{location}", app.addr)).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let job = app
        .store
        .jobs(&[mailscore::domain::JobId::new(claims.job_id)])
        .await
        .unwrap()
        .pop()
        .flatten()
        .unwrap();
    let title = job.value("application_name").unwrap();
    assert!(
        page.text().contains(&*html_escape::encode_text(title)),
        "the page shows the job's title"
    );
    app.stop().await;
    assert_eq!(app.actions_of(&links.user_id, ActionType::Click).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribing_by_the_page_or_one_click_is_stored_before_the_answer() {
    let mut app = spawn_tracked_app().await;
    let (page_user, one_click_user) = (app.links(3).await, app.links(4).await);
    let suppressed = |store: Arc<dyn Store>, user: String| async move {
        let user = store
            .user(&UserId::parse(&user).unwrap())
            .await
            .unwrap()
            .unwrap();
        store
            .suppressions()
            .await
            .unwrap()
            .iter()
            .any(|s| s.address.as_str().eq_ignore_ascii_case(user.email.as_str()))
    };

    let page = get(page_user.unsubscribe.clone()).await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("配信を停止する") && text.contains("<form method=\"post\""));
    assert!(
        !suppressed(Arc::clone(&app.store), page_user.user_id.clone()).await,
        "showing the page changes nothing"
    );
    let done = post(page_user.unsubscribe.clone(), "").await;
    assert_eq!(done.status, 200);
    assert!(done.text().contains("配信を停止しました"));
    assert!(suppressed(Arc::clone(&app.store), page_user.user_id.clone()).await);
    let emails = app
        .store
        .emails(app.date, Some(&UserId::parse(&page_user.user_id).unwrap()))
        .await
        .unwrap();
    assert_eq!(
        emails[0].status,
        EmailStatus::Suppressed,
        "today's email stops"
    );
    let again = get(page_user.unsubscribe.clone()).await;
    assert!(again.text().contains("すでに停止"));

    let one_click = post(
        one_click_user.unsubscribe.clone(),
        "List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(one_click.status, 200);
    assert!(suppressed(Arc::clone(&app.store), one_click_user.user_id.clone()).await);

    let tampered = format!("{}x", one_click_user.unsubscribe);
    assert_eq!(
        post(tampered, "List-Unsubscribe=One-Click").await.status,
        404
    );
    app.stop().await;
}

/// Many clicks at once: every one answered 302 is stored once the server stops.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_clicks_is_stored_whole_by_the_group_commit() {
    let mut app = spawn_tracked_app().await;
    let mut clicks = Vec::new();
    for index in 5..10 {
        clicks.extend(app.links(index).await.clicks);
    }
    let answered: usize = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let handles: Vec<_> = clicks
                .chunks(25)
                .map(|chunk| {
                    scope.spawn(move || {
                        let agent = agent();
                        chunk
                            .iter()
                            .filter(|url| agent.get(*url).call().unwrap().status() == 302)
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    })
    .await
    .unwrap();
    assert_eq!(answered, 200);
    app.stop().await;
    let actions = app
        .store
        .actions_between(app.started, i64::MAX / 2)
        .await
        .unwrap();
    let stored = (0..actions.len())
        .filter(|&row| {
            let action = actions.row(row);
            action.action_type == Some(ActionType::Click)
                && action.source == Some(ActionSource::Email)
        })
        .count();
    assert_eq!(stored, answered, "every click answered 302 is stored");
}

/// Two clicks of one link read in the same microsecond are two clicks: the recorder gives
/// each its own instant, so the store's identity (instant, user, job, type) keeps both.
#[tokio::test(flavor = "multi_thread")]
async fn clicks_of_one_link_in_the_same_microsecond_are_each_stored() {
    let mut app = spawn_tracked_app().await;
    app.stop().await;
    let user = app.store.users().await.unwrap().remove(0);
    let job_id = app.store.job_columns().await.unwrap().job_id[0];
    let recorder = mailscore::service::tracking::TrackingRecorder::start(
        Arc::clone(&app.store),
        TimeZoneSetting::tokyo(),
        |_| {},
    );
    let at = jiff::Timestamp::now().as_microsecond();
    for _ in 0..3 {
        recorder
            .record(mailscore::service::tracking::TrackedAction {
                user_id: user.user_id.clone(),
                job_id,
                action_type: ActionType::Click,
                at,
                section: Some("top5".to_owned()),
            })
            .await
            .unwrap();
    }
    recorder.stop().await;
    assert_eq!(
        app.actions_of(user.user_id.as_str(), ActionType::Click)
            .await,
        3,
        "each click is stored"
    );
}
