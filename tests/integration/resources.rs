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

/// The local day before `date`, at `hour` in Tokyo, as `actions.csv` writes it.
fn day_before_at(date: jiff::civil::Date, hour: u8) -> String {
    let day = date.checked_sub(jiff::Span::new().days(1)).unwrap();
    format!("{day} {hour:02}:00:00+09")
}

async fn post_actions(app: &crate::tracking::TrackedApp, body: Value) -> crate::tracking::Answer {
    send_json(
        "POST",
        format!("http://{}/api/actions", app.addr),
        Some(body),
        &app.admin,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_actions_is_checked_as_a_file_is_stored_once_and_reported_by_index() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let jobs = json_of(&get_as_admin(&app, format!("{base}/api/jobs?limit=2")).await);
    let (job, other_job) = (
        jobs["jobs"][0]["job_id"].as_str().unwrap().to_owned(),
        jobs["jobs"][1]["job_id"].as_str().unwrap().to_owned(),
    );
    let pref: u16 = jobs["jobs"][0]["pref_cd"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let at = day_before_at(app.date, 10);
    let batch = json!({"actions": [
        // Good: the job id as a number, no snapshot (filled from the job).
        {"user_id": "api-user", "job_id": job.parse::<u64>().unwrap(), "action_type": "applied",
         "action_at": at, "source": "web"},
        // No user: skipped.
        {"job_id": job, "action_type": "click", "action_at": at},
        // A fee that is no number: a warning, stored without a fee; features as a list.
        {"user_id": "api-user", "job_id": other_job, "action_type": "click", "action_at": at,
         "section": "top5", "fee": "lots", "feature_codes": [100, 103],
         "extra": {"campaign": "summer"}},
        // Not a type of action: skipped.
        {"user_id": "api-user", "job_id": job, "action_type": "purchase", "action_at": at},
    ]});
    let answer = post_actions(&app, batch.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = json_of(&answer);
    assert_eq!(report["rows_read"], 4, "{report}");
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["rows_imported"], 2, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    assert_eq!(report["rows_skipped"], 2, "{report}");
    assert_eq!(report["warnings"], 1, "{report}");
    let issues: Vec<(u64, &str, &str)> = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["index"].as_u64().unwrap(),
                i["field"].as_str().unwrap(),
                i["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        issues,
        [
            (1, "user_id", "error"),
            (2, "fee", "warning"),
            (3, "action_type", "error")
        ],
        "{report}"
    );
    assert_eq!(report["issues"][2]["value"], "purchase");

    // The stored report, as an import's.
    let id = report["id"].as_str().unwrap();
    let stored = json_of(&get_as_admin(&app, format!("{base}/api/imports/{id}")).await);
    assert_eq!(stored["kind"], "actions");
    assert_eq!(stored["file"], "POST /api/actions");
    assert_eq!(
        stored["issues"][0]["line"], 2,
        "a batch's line is its position from 1"
    );

    // Stored with the job's snapshot filled in, the extra column kept.
    let day_start = mailscore::domain::TimeZoneSetting::tokyo()
        .start_of_day(app.date.checked_sub(jiff::Span::new().days(1)).unwrap());
    let actions = app
        .store
        .actions_between(day_start, day_start + 86_400_000_000)
        .await
        .unwrap();
    let mine: Vec<_> = (0..actions.len())
        .map(|row| actions.row(row))
        .filter(|a| a.user_id == "api-user")
        .collect();
    assert_eq!(mine.len(), 2);
    let applied = mine
        .iter()
        .find(|a| a.action_type == Some(mailscore::domain::ActionType::Applied))
        .unwrap();
    assert_eq!(applied.pref_cd, pref, "the snapshot is filled from the job");
    let click = mine.iter().find(|a| a.section == Some("top5")).unwrap();
    assert_eq!(click.feature_codes, Some(&[100, 103][..]));
    assert_eq!(click.extra, Some(r#"{"campaign":"summer"}"#));

    // The same batch again stores nothing new; the same action as a CSV row, its instant
    // written in UTC, neither.
    let again = json_of(&post_actions(&app, batch).await);
    assert_eq!(
        (again["rows_imported"].clone(), again["duplicates"].clone()),
        (json!(0), json!(2))
    );
    let day = app.date.checked_sub(jiff::Span::new().days(1)).unwrap();
    let csv =
        format!("user_id,job_id,action_type,action_at\napi-user,{job},applied,{day}T01:00:00Z\n");
    let uploaded = upload(
        &app,
        format!("{base}/api/imports?kind=actions"),
        "a.csv",
        csv.into_bytes(),
    )
    .await;
    let uploaded = json_of(&uploaded);
    assert_eq!(uploaded["rows_imported"], 0, "{uploaded}");
    assert_eq!(uploaded["counts"]["already_stored"], 1, "{uploaded}");

    // Refused whole: empty, too many, not the schema.
    let n_stored = app.store.action_count().await.unwrap();
    let empty = post_actions(&app, json!({"actions": []})).await;
    assert_eq!(empty.status, 422, "{}", empty.text());
    assert_eq!(json_of(&empty)["code"], "batch_rejected");
    let one = json!({"user_id": "u", "job_id": "1", "action_type": "open", "action_at": at});
    let too_many = post_actions(&app, json!({"actions": vec![one; 10_001]})).await;
    assert_eq!(too_many.status, 422, "{}", too_many.text());
    let body = json_of(&too_many);
    assert_eq!(body["code"], "batch_rejected");
    assert!(body["hint"].as_str().unwrap().contains("10000"), "{body}");
    let not_a_cell = post_actions(&app, json!({"actions": [{"user_id": {"a": 1}}]})).await;
    assert_eq!(not_a_cell.status, 400, "{}", not_a_cell.text());
    assert_eq!(
        app.store.action_count().await.unwrap(),
        n_stored,
        "nothing refused was stored"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_job_has_its_columns_eligibility_and_the_scores_its_date_stored() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let date = app.date;
    let listed = json_of(
        &get_as_admin(
            &app,
            format!("{base}/api/jobs?date={date}&eligible=true&limit=1000"),
        )
        .await,
    );
    let listed = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| {
            !j["scores"]["matched_keywords"]
                .as_array()
                .unwrap()
                .is_empty()
        })
        .expect("an eligible job matches a keyword")
        .clone();
    let id = listed["job_id"].as_str().unwrap();
    // Without a date: the latest date a run scored, today's.
    let job = json_of(&get_as_admin(&app, format!("{base}/api/jobs/{id}")).await);
    assert_eq!(job["date"], date.to_string(), "{job}");
    assert_eq!(job["eligible"], true, "{job}");
    assert_eq!(
        job["scores"], listed["scores"],
        "the list's scores of the date"
    );
    let scores = &job["scores"];
    let component = |name: &str| scores[name].as_f64().unwrap();
    let basic = 0.4 * component("wage") + 0.3 * component("fee") + 0.3 * component("popularity");
    assert!((component("basic") - basic).abs() < 1e-5, "{scores}");
    assert!(scores["occupation_category"].is_string(), "{scores}");
    assert!(
        job["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "application_name" && c["value"] == listed["title"])
    );
    let same = json_of(&get_as_admin(&app, format!("{base}/api/jobs/{id}?date={date}")).await);
    assert_eq!(same["scores"], job["scores"]);

    // A date no run scored: eligibility of that date, no scores.
    let old = json_of(&get_as_admin(&app, format!("{base}/api/jobs/{id}?date=2001-01-01")).await);
    assert_eq!(old["date"], "2001-01-01", "{old}");
    assert_eq!(old["eligible"], false, "not posted yet in 2001: {old}");
    assert!(old.get("scores").is_none(), "{old}");
    let bad = get_as_admin(&app, format!("{base}/api/jobs/{id}?date=soon")).await;
    assert_eq!(bad.status, 400);
    app.stop().await;
}

/// The local day `days` before `date`, at `hour` in Tokyo, as `actions.csv` writes it.
fn days_before_at(date: jiff::civil::Date, days: i64, hour: u8) -> String {
    let day = date.checked_sub(jiff::Span::new().days(days)).unwrap();
    format!("{day} {hour:02}:00:00+09")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_s_detail_infers_their_location_from_their_applications_and_lists_their_actions() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let date = app.date;
    // A user who gave no place, and jobs of two cities: two of one, one of the other.
    let users = upload(
        &app,
        format!("{base}/api/imports?kind=users"),
        "users.csv",
        b"user_id,email\nnew-user,new-user@example.jp\n".to_vec(),
    )
    .await;
    assert_eq!(users.status, 200, "{}", users.text());
    let jobs = json_of(&get_as_admin(&app, format!("{base}/api/jobs?limit=1000")).await);
    let jobs = jobs["jobs"].as_array().unwrap();
    let city = |job: &Value| job["city_cd"].as_str().unwrap().to_owned();
    let (first, second) = jobs
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            jobs[i + 1..]
                .iter()
                .find(|b| city(b) == city(a))
                .map(|b| (a.clone(), b.clone()))
        })
        .expect("two jobs share a city");
    let elsewhere = jobs.iter().find(|j| city(j) != city(&first)).unwrap();
    let id = |job: &Value| job["job_id"].as_str().unwrap().to_owned();
    let action = |job: &Value, kind: &str, at: String| json!({"user_id": "new-user", "job_id": id(job), "action_type": kind, "action_at": at});
    let batch = json!({"actions": [
        action(&first, "applied", days_before_at(date, 3, 10)),
        action(&second, "applied", days_before_at(date, 2, 10)),
        action(elsewhere, "applied", days_before_at(date, 1, 10)),
        action(elsewhere, "click", days_before_at(date, 1, 11)),
    ]});
    assert_eq!(
        json_of(&post_actions(&app, batch).await)["rows_imported"],
        4
    );

    let detail = get_as_admin(&app, format!("{base}/api/users/new-user")).await;
    assert_eq!(detail.status, 200, "{}", detail.text());
    let detail = json_of(&detail);
    assert_eq!(
        detail["date"],
        date.to_string(),
        "today by default: {detail}"
    );
    let location = &detail["location"];
    assert_eq!(location["source"], "applications", "{detail}");
    assert_eq!(
        location["city_cd"],
        city(&first),
        "the most applied city: {detail}"
    );
    assert_eq!(location["pref_cd"], first["pref_cd"], "{detail}");
    assert!(
        location["city_name"].is_string() && location["region"].is_string(),
        "{location}"
    );
    assert_eq!(detail["profile"]["applications"], 3, "{detail}");
    assert_eq!(detail["profile"]["cities"][0]["value"], city(&first));
    assert_eq!(detail["profile"]["cities"][0]["applications"], 2);
    assert!(
        detail["profile"]["mean_hourly_wage"].is_number(),
        "{detail}"
    );
    assert_eq!(detail["actions_by_type"]["applied"], 3);
    assert_eq!(detail["actions_by_type"]["click"], 1);
    assert_eq!(detail["actions_by_type"]["open"], 0);
    assert_eq!(detail["applications_total"], 3);
    let listed: Vec<(&str, &str)> = detail["recent_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["job_id"].as_str().unwrap(),
                a["action_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (id(elsewhere).as_str(), "click"),
            (id(elsewhere).as_str(), "applied"),
            (id(&second).as_str(), "applied"),
            (id(&first).as_str(), "applied"),
        ],
        "newest first"
    );
    assert_eq!(detail["applications"].as_array().unwrap().len(), 3);

    // Bounded: the lists hold `limit`, the counts stay whole.
    let one = json_of(&get_as_admin(&app, format!("{base}/api/users/new-user?limit=1")).await);
    assert_eq!(one["applications"].as_array().unwrap().len(), 1);
    assert_eq!(one["applications"][0]["job_id"], id(elsewhere));
    assert_eq!(one["recent_actions"].as_array().unwrap().len(), 1);
    assert_eq!(one["applications_total"], 3);

    // The profile of an earlier date reads only the days before it: on D−2, the first
    // application alone; on D−3, none, and the place is unknown.
    let day = |days: i64| date.checked_sub(jiff::Span::new().days(days)).unwrap();
    let earlier =
        json_of(&get_as_admin(&app, format!("{base}/api/users/new-user?date={}", day(2))).await);
    assert_eq!(earlier["profile"]["applications"], 1, "{earlier}");
    assert_eq!(earlier["location"]["city_cd"], city(&first));
    let before =
        json_of(&get_as_admin(&app, format!("{base}/api/users/new-user?date={}", day(3))).await);
    assert_eq!(before["profile"]["applications"], 0, "{before}");
    assert_eq!(before["location"]["source"], "unknown", "{before}");
    assert!(before["location"].get("city_cd").is_none(), "{before}");
    app.stop().await;
}

/// The job ids of a picks answer, in section and rank order.
fn picked_jobs(picks: &Value) -> Vec<String> {
    picks["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["picks"].as_array().unwrap().iter())
        .map(|p| p["job_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn recomputed_picks_equal_the_stored_ones_and_follow_new_applications_without_storing() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let date = app.date;
    let user = app.store.emails(date, None).await.unwrap()[0]
        .user_id
        .as_str()
        .to_owned();
    let stored_url = format!("{base}/api/picks/{date}/{user}");
    let recompute_url = format!("{base}/api/picks/{date}/{user}/recompute");
    let stored = get_as_admin(&app, stored_url.clone()).await;
    assert_eq!(stored.status, 200, "{}", stored.text());
    let stored = json_of(&stored);
    let runs_before = json_of(&get_as_admin(&app, format!("{base}/api/runs")).await);

    let recomputed = send_json("POST", recompute_url.clone(), None, &app.admin).await;
    assert_eq!(recomputed.status, 200, "{}", recomputed.text());
    assert_eq!(
        json_of(&recomputed),
        stored,
        "right after the run: the stored picks"
    );

    // An application made on the date itself is not used (SPEC §3.0); one of the day
    // before excludes the job and its company's other jobs (SPEC §4).
    let jobs = picked_jobs(&stored);
    let applied = jobs[0].clone();
    let columns = app.store.job_columns().await.unwrap();
    let company = |job: &str| {
        let row = columns
            .position(mailscore::domain::JobId::new(job.parse().unwrap()))
            .unwrap();
        columns.endcl_cd.get(row).to_owned()
    };
    let applied_company = company(&applied);
    assert!(!applied_company.is_empty());
    let on_the_day = json!({"actions": [{"user_id": user, "job_id": applied,
        "action_type": "applied", "action_at": format!("{date} 00:01:00+09")}]});
    assert_eq!(
        json_of(&post_actions(&app, on_the_day).await)["rows_imported"],
        1
    );
    let same = json_of(&send_json("POST", recompute_url.clone(), None, &app.admin).await);
    assert_eq!(same, stored, "an action of the date itself changes nothing");

    let the_day_before = json!({"actions": [{"user_id": user, "job_id": applied,
        "action_type": "applied", "action_at": day_before_at(date, 12)}]});
    assert_eq!(
        json_of(&post_actions(&app, the_day_before).await)["rows_imported"],
        1
    );
    let changed = send_json("POST", recompute_url.clone(), None, &app.admin).await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let changed = json_of(&changed);
    let now_picked = picked_jobs(&changed);
    assert!(
        !now_picked.contains(&applied),
        "a job applied to is not picked"
    );
    assert!(
        now_picked.iter().all(|job| company(job) != applied_company),
        "nor is any job of a company applied to within 14 days"
    );
    assert_eq!(
        now_picked.len(),
        jobs.len(),
        "the list is filled from other jobs"
    );

    // Nothing was stored: the stored picks and the runs are as they were.
    assert_eq!(json_of(&get_as_admin(&app, stored_url).await), stored);
    assert_eq!(
        json_of(&get_as_admin(&app, format!("{base}/api/runs")).await),
        runs_before
    );

    let unknown = send_json(
        "POST",
        format!("{base}/api/picks/{date}/nobody-here/recompute"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert_eq!(json_of(&unknown)["code"], "not_found");
    let bad = send_json(
        "POST",
        format!("{base}/api/picks/someday/{user}/recompute"),
        None,
        &app.admin,
    )
    .await;
    assert_eq!(bad.status, 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stats_count_the_store_the_date_s_picks_and_activity_and_follow_applications_after_it()
{
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    let date = app.date;
    let zone = mailscore::domain::TimeZoneSetting::tokyo();
    let stats = get_as_admin(&app, format!("{base}/api/stats?date={date}")).await;
    assert_eq!(stats.status, 200, "{}", stats.text());
    let stats = json_of(&stats);
    assert!(stats["computed_at"].is_string(), "{}", stats["computed_at"]);
    let again = json_of(&get_as_admin(&app, format!("{base}/api/stats?date={date}")).await);
    assert_eq!(again, stats, "asked again at once: the same figures, kept");
    // The metrics are the test process's: other tests' servers may count hits too.
    assert!(cache_lookups(&app, "stats", "hits").await >= 1.0);

    let picks = app.store.picks(date, None).await.unwrap();
    let n_picks: u64 = picks.iter().map(|u| u.picks.len() as u64).sum();
    let counts = &stats["counts"];
    assert_eq!(counts["jobs_active"], 600);
    assert_eq!(counts["users"], 30);
    assert_eq!(
        counts["users_picked"],
        picks.iter().filter(|u| !u.picks.is_empty()).count() as u64
    );
    assert_eq!(
        counts["emails_total"],
        app.store.emails(date, None).await.unwrap().len() as u64
    );
    assert_eq!(counts["emails"][0]["name"], "pending");
    assert_eq!(stats["scores"]["picks_total"]["count"], n_picks);
    let buckets: u64 = stats["scores"]["picks_total"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .sum();
    assert_eq!(buckets, n_picks);
    let fill = stats["section_fill"].as_array().unwrap();
    assert_eq!(fill.len(), 6);
    assert_eq!(fill[0]["section"], "editorial");
    let filled: u64 = fill.iter().map(|s| s["picks"].as_u64().unwrap()).sum();
    assert_eq!(filled, n_picks);
    for section in fill {
        let by_tier: u64 = section["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["count"].as_u64().unwrap())
            .sum();
        assert_eq!(by_tier, section["picks"].as_u64().unwrap(), "{section}");
    }

    // The series: 30 local days up to the date, each day's applications as stored.
    let days = stats["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["date"], date.to_string());
    let first = date.checked_sub(jiff::Span::new().days(29)).unwrap();
    assert_eq!(stats["window_from"], first.to_string());
    let actions = app
        .store
        .actions_between(zone.start_of_day(first), i64::MAX / 2)
        .await
        .unwrap();
    for day in days {
        let local: jiff::civil::Date = day["date"].as_str().unwrap().parse().unwrap();
        let (from, to) = (
            zone.start_of_day(local),
            zone.start_of_day(local.checked_add(jiff::Span::new().days(1)).unwrap()),
        );
        let applied = (0..actions.len())
            .map(|row| actions.row(row))
            .filter(|a| {
                a.action_type == Some(mailscore::domain::ActionType::Applied)
                    && (from..to).contains(&a.action_at)
            })
            .count() as u64;
        assert_eq!(day["applications"], applied, "{day}");
    }
    let all_applied: u64 = days
        .iter()
        .map(|d| d["applications"].as_u64().unwrap())
        .sum();
    assert!(all_applied > 0, "the generated store has applications");
    assert_eq!(stats["hit_rates"].as_array().unwrap().len(), 30);
    assert_eq!(stats["hit_rates"][29], stats["hit_rate"]);

    // Applications after the date: one to a job picked for its user on the date, one by a
    // user without picks, and one on the date itself, which is not after it.
    let user = picks.iter().find(|u| !u.picks.is_empty()).unwrap();
    let job = user.picks[0].job_id.to_string();
    let day_after = |days: i64, hour: u8| {
        let day = date.checked_add(jiff::Span::new().days(days)).unwrap();
        format!("{day} {hour:02}:00:00+09")
    };
    let batch = json!({"actions": [
        {"user_id": user.user_id.as_str(), "job_id": job, "action_type": "applied",
         "action_at": day_after(1, 10)},
        {"user_id": "no-picks-user", "job_id": job, "action_type": "applied",
         "action_at": day_after(2, 10)},
        {"user_id": user.user_id.as_str(), "job_id": job, "action_type": "applied",
         "action_at": day_after(0, 23)},
    ]});
    let before = &stats["hit_rate"];
    assert_eq!(
        json_of(&post_actions(&app, batch).await)["rows_imported"],
        3
    );
    let after = json_of(&get_as_admin(&app, format!("{base}/api/stats?date={date}")).await);
    assert_ne!(
        after["computed_at"], stats["computed_at"],
        "recorded actions are counted at once"
    );
    let after = json_of(&get_as_admin(&app, format!("{base}/api/stats?date={date}&days=7")).await);
    let hit = &after["hit_rate"];
    assert_eq!(after["days"].as_array().unwrap().len(), 7);
    assert_eq!(
        hit["applications"].as_u64().unwrap(),
        before["applications"].as_u64().unwrap() + 2,
        "{hit}"
    );
    assert_eq!(
        hit["hits"].as_u64().unwrap(),
        before["hits"].as_u64().unwrap() + 1,
        "{hit}"
    );
    assert!(hit["rate"].is_number(), "{hit}");
    assert_eq!(hit["picks"], n_picks);
    assert_eq!(hit["picks_stored"], true);

    for bad in ["days=0", "days=91", "date=tomorrow"] {
        let answer = get_as_admin(&app, format!("{base}/api/stats?{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text());
    }
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
async fn picks_read_twice_come_from_the_cache_and_a_job_is_shown_anew_after_an_import() {
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

    let first = json_of(&get_as_admin(&app, job.clone()).await);
    assert_eq!(title(&first), rows[0][title_at]);
    // A user's picks read twice: the second read is the cache's.
    let user = app.store.emails(app.date, None).await.unwrap()[0]
        .user_id
        .as_str()
        .to_owned();
    let picks = format!("{base}/api/picks/{}/{user}", app.date);
    let hits = cache_lookups(&app, "picks", "hits").await;
    let once = get_as_admin(&app, picks.clone()).await;
    let twice = get_as_admin(&app, picks).await;
    assert_eq!((once.status, &once.body), (200, &twice.body));
    assert!(
        cache_lookups(&app, "picks", "hits").await > hits,
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
