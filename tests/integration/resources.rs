//! The API's resources over a generated store whose today ran: users, a user's picks,
//! the email queue (with cancel and retry) and the suppression list, through a real
//! client against the real server.

use serde_json::{Value, json};

use crate::tracking::{get_as, send_json, spawn_tracked_app};

async fn get_as_admin(app: &crate::tracking::TrackedApp, url: String) -> crate::tracking::Answer {
    get_as(url, &app.admin).await
}

fn json_of(answer: &crate::tracking::Answer) -> Value {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", answer.text()))
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_listed_filtered_and_shown_with_why_they_are_emailed() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let page = get_as_admin(&app, format!("{base}/api/users?limit=5&offset=2")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let page = json_of(&page);
    assert_eq!(page["total"], 30);
    assert_eq!(page["users"].as_array().unwrap().len(), 5);
    let all = json_of(&get_as_admin(&app, format!("{base}/api/users?limit=1000")).await);
    let ids: Vec<&str> = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "a stable order: by user id");
    assert_eq!(page["users"][0]["user_id"], all["users"][2]["user_id"]);

    let first = &all["users"][0];
    let needle = first["email"].as_str().unwrap().to_uppercase();
    let found = json_of(&get_as_admin(&app, format!("{base}/api/users?q={needle}")).await);
    assert_eq!(found["total"], 1, "searched by address, case ignored");
    let inactive =
        json_of(&get_as_admin(&app, format!("{base}/api/users?active=false&limit=1000")).await);
    assert!(
        inactive["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["is_active"] == false)
    );

    let id = first["user_id"].as_str().unwrap();
    let detail = json_of(&get_as_admin(&app, format!("{base}/api/users/{id}")).await);
    assert_eq!(detail["user"]["user_id"], id);
    let expected = first["is_active"] == true && first["subscribed"] == true;
    assert_eq!(detail["emailed"], expected);
    let missing = get_as_admin(&app, format!("{base}/api/users/nobody-here")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(json_of(&missing)["code"], "not_found");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_s_picks_come_by_section_in_rank_order_with_their_reasons() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let emails = app.store.emails(app.date, None).await.unwrap();
    let user = emails[0].user_id.as_str().to_owned();
    let picks = get_as_admin(&app, format!("{base}/api/picks/{}/{user}", app.date)).await;
    assert_eq!(picks.status, 200, "{}", picks.text());
    let picks = json_of(&picks);
    let sections = picks["sections"].as_array().unwrap();
    let n: usize = sections
        .iter()
        .map(|s| s["picks"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, 40);
    assert_eq!(sections[0]["section"], "editorial");
    for section in sections {
        let ranks: Vec<u64> = section["picks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["rank"].as_u64().unwrap())
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    }
    let pick = &sections[0]["picks"][0];
    assert!(pick["job_id"].is_string() && pick["total"].is_number());
    assert!(pick["reasons"].is_array() && pick["tier"].is_string());
    let none = get_as_admin(&app, format!("{base}/api/picks/2001-01-01/{user}")).await;
    assert_eq!(none.status, 404);
    let bad = get_as_admin(&app, format!("{base}/api/picks/yesterday/{user}")).await;
    assert_eq!(bad.status, 400);
    assert_eq!(json_of(&bad)["code"], "invalid_value");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_lists_shows_cancels_and_retries_emails() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let date = app.date;
    let listed = json_of(
        &get_as_admin(
            &app,
            format!("{base}/api/emails?date={date}&status=pending"),
        )
        .await,
    );
    let total = listed["total"].as_u64().unwrap();
    assert!(total > 0);
    let user = listed["emails"][0]["user_id"].as_str().unwrap().to_owned();

    let email = get_as_admin(&app, format!("{base}/api/emails/{date}/{user}")).await;
    assert_eq!(email.status, 200, "{}", email.text());
    let email = json_of(&email);
    let header = |name: &str| {
        email["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h["value"].as_str().unwrap().to_owned())
    };
    assert!(header("List-Unsubscribe").unwrap().contains("/u/"));
    assert_eq!(
        header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let html = html_escape::decode_html_entities(email["html"].as_str().unwrap()).into_owned();
    assert!(html.contains("/t/c/"), "the body has its tracked links");
    assert!(!email["text"].as_str().unwrap().is_empty());

    let cancelled = send_json(
        "POST",
        format!("{base}/api/emails/{date}/{user}/cancel"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    assert_eq!(json_of(&cancelled)["status"], "cancelled");
    let again = send_json(
        "POST",
        format!("{base}/api/emails/{date}/{user}/cancel"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(again.status, 409);
    assert_eq!(json_of(&again)["code"], "conflict");
    let pending = json_of(
        &get_as_admin(
            &app,
            format!("{base}/api/emails?date={date}&status=pending"),
        )
        .await,
    );
    assert_eq!(pending["total"].as_u64().unwrap(), total - 1);
    let retried = send_json(
        "POST",
        format!("{base}/api/emails/{date}/{user}/retry"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(json_of(&retried)["status"], "pending");
    let none = send_json(
        "POST",
        format!("{base}/api/emails/{date}/nobody/cancel"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(none.status, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn suppressing_an_address_stops_its_email_and_lifting_it_takes_it_off_the_list() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let date = app.date;
    let email = &app.store.emails(date, None).await.unwrap()[0];
    let (user, address) = (
        email.user_id.as_str().to_owned(),
        email.to.as_str().to_owned(),
    );

    let added = send_json(
        "POST",
        format!("{base}/api/suppressions"),
        Some(json!({"address": address.to_uppercase(), "reason": "complained", "note": "苦情"})),
        &app.admin,
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.text());
    assert_eq!(json_of(&added)["emails_suppressed"], 1);
    let list = json_of(&get_as_admin(&app, format!("{base}/api/suppressions")).await);
    assert_eq!(list[0]["reason"], "complained");
    let detail = json_of(&get_as_admin(&app, format!("{base}/api/users/{user}")).await);
    assert_eq!(detail["emailed"], false);
    assert_eq!(detail["suppression"]["note"], "苦情");
    let queued = json_of(&get_as_admin(&app, format!("{base}/api/emails/{date}/{user}")).await);
    assert_eq!(queued["email"]["status"], "suppressed");

    let bad = send_json(
        "POST",
        format!("{base}/api/suppressions"),
        Some(json!({"address": "not an address"})),
        &app.admin,
    )
    .await;
    assert_eq!(bad.status, 400);
    let removed = send_json(
        "DELETE",
        format!("{base}/api/suppressions/{address}"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert!(
        json_of(&get_as_admin(&app, format!("{base}/api/suppressions")).await)
            .as_array()
            .unwrap()
            .is_empty()
    );
    let again = send_json(
        "DELETE",
        format!("{base}/api/suppressions/{address}"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(again.status, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_filtered_by_place_title_needs_and_score_with_a_date_s_scores() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let date = app.date;
    let all = json_of(&get_as_admin(&app, format!("{base}/api/jobs?limit=1000")).await);
    assert_eq!(all["total"], 600);
    assert!(all["jobs"][0].get("scores").is_none(), "no date, no scores");

    let scored =
        json_of(&get_as_admin(&app, format!("{base}/api/jobs?date={date}&limit=1000")).await);
    let jobs = scored["jobs"].as_array().unwrap();
    assert!(jobs.iter().all(|j| j["eligible"].is_boolean()));
    let with_needs = jobs
        .iter()
        .find(|j| !j["scores"]["needs"].as_array().unwrap().is_empty())
        .expect("some job is in a needs category");
    let category = with_needs["scores"]["needs"][0].as_str().unwrap();
    let of_needs = json_of(
        &get_as_admin(
            &app,
            format!("{base}/api/jobs?date={date}&needs={category}&limit=1000"),
        )
        .await,
    );
    assert!(of_needs["total"].as_u64().unwrap() >= 1);
    assert!(of_needs["jobs"].as_array().unwrap().iter().all(|j| {
        j["scores"]["needs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == category)
    }));

    let pref = jobs[0]["pref_cd"].as_str().unwrap();
    let in_pref =
        json_of(&get_as_admin(&app, format!("{base}/api/jobs?pref_cd={pref}&limit=1000")).await);
    assert!(
        in_pref["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["pref_cd"] == pref)
    );
    assert!(in_pref["total"].as_u64().unwrap() < 600);

    let high = json_of(
        &get_as_admin(
            &app,
            format!("{base}/api/jobs?date={date}&min_basic=0.5&limit=1000"),
        )
        .await,
    );
    assert!(
        high["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["scores"]["basic"].as_f64().unwrap() >= 0.5)
    );
    let word: String = jobs[0]["title"].as_str().unwrap().chars().take(3).collect();
    let titled = get_as_admin(&app, format!("{base}/api/jobs?q={}", urlencode(&word))).await;
    let titled = json_of(&titled);
    assert!(titled["total"].as_u64().unwrap() >= 1);
    let needs_without_date = get_as_admin(&app, format!("{base}/api/jobs?needs={category}")).await;
    assert_eq!(needs_without_date.status, 400);
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `multipart/form-data` body with one `file` field.
fn multipart(name: &str, contents: &[u8]) -> (String, Vec<u8>) {
    let boundary = "mailscore-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(contents);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &crate::tracking::TrackedApp,
    url: String,
    name: &str,
    contents: Vec<u8>,
) -> crate::tracking::Answer {
    let (content_type, body) = multipart(name, &contents);
    let bearer = format!("Bearer {}", app.admin);
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .post(&url)
            .header("authorization", &bearer)
            .content_type(&content_type)
            .send(&body[..])
            .unwrap();
        crate::tracking::Answer {
            status: response.status().as_u16(),
            location: None,
            content_type: String::new(),
            cache_control: None,
            body: response.body_mut().read_to_vec().unwrap(),
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uploaded_feed_is_imported_and_a_bad_one_is_reported_or_refused() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let idle = get_as_admin(&app, format!("{base}/api/imports/progress")).await;
    assert_eq!(idle.status, 404, "no upload is going on");

    // The generated feed again, with its first row's job_id broken.
    let feed = std::fs::read_to_string(app.t_dir().join("generated/jobs.csv")).unwrap();
    let (header, rest) = feed.split_once('\n').unwrap();
    assert!(
        header.starts_with("job_id,"),
        "the generated feed starts with job_id"
    );
    let (_, after_id) = rest.split_once(',').unwrap();
    let feed = format!("{header}\nnot-a-number,{after_id}");
    let answer = upload(
        &app,
        format!("{base}/api/imports?kind=jobs"),
        "jobs-2025.csv",
        feed.into_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = json_of(&answer);
    assert_eq!(report["status"], "imported");
    assert_eq!(
        report["file"], "jobs-2025.csv",
        "named as the client named it"
    );
    assert_eq!(report["rows_imported"], 599);
    assert_eq!(report["rows_skipped"], 1);
    let issue = &report["issues"][0];
    assert_eq!(issue["line"], 2);
    assert_eq!(issue["column"], "job_id");
    assert_eq!(issue["value"], "not-a-number");
    let id = report["id"].as_str().unwrap();
    let stored = json_of(&get_as_admin(&app, format!("{base}/api/imports/{id}")).await);
    assert_eq!(stored["rows_skipped"], 1);
    let uploads = app.t_dir().join("uploads");
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "the uploaded file is removed once imported"
    );

    let refused = upload(
        &app,
        format!("{base}/api/imports?kind=users"),
        "users.csv",
        b"name,age\nfoo,3\n".to_vec(),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let body = json_of(&refused);
    assert_eq!(body["code"], "import_rejected");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("users.csv"), "{message}");
    assert!(
        !message.contains("uploads"),
        "no path of the data directory: {message}"
    );
    let users = json_of(&get_as_admin(&app, format!("{base}/api/users")).await);
    assert_eq!(users["total"], 30, "nothing was written");

    let unknown_kind = upload(
        &app,
        format!("{base}/api/imports?kind=spreadsheets"),
        "x.csv",
        b"a\n1\n".to_vec(),
    )
    .await;
    assert_eq!(unknown_kind.status, 400);
    app.stop().await;
}

/// The count of `mailscore_cache_{outcome}_total{cache="…"}` the server exposes.
async fn cache_lookups(app: &crate::tracking::TrackedApp, cache: &str, outcome: &str) -> f64 {
    let metrics = get_as_admin(app, format!("http://{}/metrics", app.addr)).await;
    assert_eq!(metrics.status, 200);
    let series = format!("mailscore_cache_{outcome}_total{{cache=\"{cache}\"}} ");
    metrics
        .text()
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_read_twice_comes_from_the_cache_and_anew_after_an_import_changed_it() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let feed = app.t_dir().join("generated/jobs.csv");
    let mut reader = csv::Reader::from_path(&feed).unwrap();
    let header = reader.headers().unwrap().clone();
    let title_at = header
        .iter()
        .position(|name| name == "application_name")
        .unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let job = format!("{base}/api/jobs/{}", &rows[0][0]);
    let title = |job: &Value| {
        job["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|column| column["name"] == "application_name")
            .unwrap()["value"]
            .clone()
    };

    let hits = cache_lookups(&app, "jobs", "hits").await;
    let first = json_of(&get_as_admin(&app, job.clone()).await);
    assert_eq!(title(&first), rows[0][title_at]);
    let second = json_of(&get_as_admin(&app, job.clone()).await);
    assert_eq!(first, second);
    assert!(
        cache_lookups(&app, "jobs", "hits").await > hits,
        "the second read is a hit"
    );

    // The same feed with the first job retitled.
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    for (at, row) in rows.iter().enumerate() {
        let mut row: Vec<&str> = row.iter().collect();
        if at == 0 {
            row[title_at] = "キャッシュの後の新しい題";
        }
        writer.write_record(&row).unwrap();
    }
    let answer = upload(
        &app,
        format!("{base}/api/imports?kind=jobs"),
        "jobs.csv",
        writer.into_inner().unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let third = json_of(&get_as_admin(&app, job).await);
    assert_eq!(
        third["columns"].as_array().unwrap().len(),
        first["columns"].as_array().unwrap().len()
    );
    assert_eq!(
        title(&third),
        "キャッシュの後の新しい題",
        "not the cached copy"
    );
    app.stop().await;
}
