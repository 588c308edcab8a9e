//! Accounts, sessions, tokens and the access rule, through the real server and a real
//! client: the access-control check generated from the OpenAPI document, CSRF, login and
//! its throttle, cookies, logout, revoked and expired tokens, the last admin, the first
//! admin's setup.

use mailscore::api::ServeOptions;
use mailscore::credentials::new_api_token;
use mailscore::domain::account::{NewApiToken, Role, TokenName};
use mailscore::service::accounts::{FirstAdmin, create_account, now};
use serde_json::{Value, json};

use crate::api::{Answer, As, TestApp, assert_error, spawn_app, spawn_empty_app};

const PASSWORD: &str = "correct horse battery staple";

/// The role an operation needs, as the access rule states it (docs/ARCHITECTURE.md),
/// written out again here so that the test checks the rule rather than repeats its code;
/// `None`: public.
fn expected_role(method: &str, path: &str) -> Option<Role> {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/health") || under("/t") || under("/u") || path == "/api/setup" {
        return None;
    }
    if path == "/api/session" {
        return (method != "POST").then_some(Role::Viewer);
    }
    if under("/api/accounts") || under("/api/tokens") || under("/api/settings") {
        return Some(Role::Admin);
    }
    Some(if matches!(method, "GET" | "HEAD") {
        Role::Viewer
    } else {
        Role::Operator
    })
}

/// `path` with every `{parameter}` replaced by a sample id that names nothing stored, so
/// that an operation allowed to run changes nothing.
fn sample_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "999999"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_of_the_document_answers_401_403_or_runs_by_the_access_rule() {
    let app = spawn_app().await;
    let document = app
        .send("GET", "/api/openapi.json", As::Nobody, None, &[])
        .await;
    assert_eq!(document.status, 200, "the document is public");
    let document = document.json();
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http", "{schemes}");
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["session"]["type"], "apiKey", "{schemes}");
    assert_eq!(schemes["session"]["in"], "cookie", "{schemes}");
    assert_eq!(schemes["session"]["name"], "mailscore_session", "{schemes}");

    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let method = method.to_uppercase();
            let url = sample_path(path);
            // A change without a documented body is sent an empty one with its length, as
            // curl -X POST sends it (never a chunked body, which the server refuses).
            let body = operation
                .get("requestBody")
                .map(|_| "{}")
                .or((method != "GET").then_some(""));
            let what = format!("{method} {path}");
            let expected = expected_role(&method, path);
            let security = operation.get("security").and_then(Value::as_array);
            let anonymous = app.send(&method, &url, As::Nobody, body, &[]).await;
            match expected {
                None => {
                    assert!(
                        security.is_none(),
                        "{what} is public but documents {security:?}"
                    );
                    assert!(
                        !matches!(anonymous.status, 401 | 403),
                        "{what} is public, answered {}: {}",
                        anonymous.status,
                        anonymous.body
                    );
                }
                Some(required) => {
                    let security =
                        security.unwrap_or_else(|| panic!("{what} documents no security"));
                    assert_eq!(
                        security,
                        &vec![json!({"bearer": []}), json!({"session": []})],
                        "{what}"
                    );
                    let responses = &operation["responses"];
                    assert!(responses.get("401").is_some(), "{what}: {responses}");
                    assert!(responses.get("403").is_some(), "{what}: {responses}");
                    let body_401 = assert_error(&anonymous, 401, "unauthenticated");
                    assert_eq!(
                        anonymous
                            .header("www-authenticate")
                            .map(|h| h.starts_with("Bearer")),
                        Some(true),
                        "{what}: {body_401}"
                    );
                    for role in Role::ALL {
                        let answer = app.send(&method, &url, As::Role(role), body, &[]).await;
                        if role < required {
                            assert_error(&answer, 403, "forbidden");
                        } else {
                            assert!(
                                !matches!(answer.status, 401 | 403),
                                "{what} as {role} (needs {required}) answered {}: {}",
                                answer.status,
                                answer.body
                            );
                        }
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "only {checked} operations were checked");
    // Outside the document: the explorer is public, the metrics need a viewer.
    let explorer = app.send("GET", "/api/docs", As::Nobody, None, &[]).await;
    assert_eq!(explorer.status, 200);
    assert!(
        explorer.body.contains("securitySchemes"),
        "the explorer can authorize"
    );
    let metrics = app.send("GET", "/metrics", As::Nobody, None, &[]).await;
    assert_error(&metrics, 401, "unauthenticated");
    let metrics = app
        .send("GET", "/metrics", As::Role(Role::Viewer), None, &[])
        .await;
    assert_eq!(metrics.status, 200);
    // A path no route takes is closed too: nobody learns what exists.
    let unknown = app
        .send("POST", "/api/nothing", As::Nobody, Some("{}"), &[])
        .await;
    assert_error(&unknown, 401, "unauthenticated");
    app.stop().await;
}

/// Creates an account with `role` and [`PASSWORD`] behind the API.
async fn account(app: &TestApp, email: &str, role: Role) -> String {
    create_account(app.store.as_ref(), email, PASSWORD, role)
        .await
        .unwrap()
        .id
        .to_string()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Answer {
    let body = json!({"email": email, "password": password}).to_string();
    app.send("POST", "/api/session", As::Nobody, Some(&body), &[])
        .await
}

/// Signs in; returns the session cookie's value and the CSRF token.
async fn session(app: &TestApp, email: &str) -> (String, String) {
    let answer = login(app, email, PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cookie = answer.header("set-cookie").expect("a session cookie");
    let value = cookie
        .strip_prefix("mailscore_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("the cookie's value")
        .to_owned();
    let csrf = answer.json()["csrf_token"].as_str().unwrap().to_owned();
    (value, csrf)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_cross_site_post_with_the_session_cookie_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    account(&app, "admin@example.jp", Role::Admin).await;
    let (cookie, csrf) = session(&app, "admin@example.jp").await;
    let tokens_before = app
        .get("/api/tokens")
        .await
        .json()
        .as_array()
        .unwrap()
        .len();
    let body = json!({"name": "forged", "role": "admin"}).to_string();
    // What a page elsewhere can make a browser send: the cookie, no token.
    let forged = app
        .send(
            "POST",
            "/api/tokens",
            As::Session {
                cookie: cookie.clone(),
                csrf: None,
            },
            Some(&body),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_error(&forged, 403, "csrf_token_missing");
    assert_eq!(
        forged.header("connection"),
        Some("close"),
        "its body was never read: the connection is not reused"
    );
    let guessed = app
        .send(
            "POST",
            "/api/tokens",
            As::Session {
                cookie: cookie.clone(),
                csrf: Some("x".repeat(43)),
            },
            Some(&body),
            &[],
        )
        .await;
    assert_error(&guessed, 403, "csrf_token_invalid");
    let tokens = app.get("/api/tokens").await.json();
    assert_eq!(
        tokens.as_array().unwrap().len(),
        tokens_before,
        "nothing changed: {tokens}"
    );
    // Our own page sends the token: the same change goes through.
    let own = app
        .send(
            "POST",
            "/api/tokens",
            As::Session {
                cookie: cookie.clone(),
                csrf: Some(csrf),
            },
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(own.status, 201, "{}", own.body);
    // Reads need no token, and a bearer change needs none either.
    let read = app
        .send(
            "GET",
            "/api/tokens",
            As::Session { cookie, csrf: None },
            None,
            &[],
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_sets_a_strict_http_only_cookie_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let id = account(&app, "viewer@example.jp", Role::Viewer).await;
    let answer = login(&app, "Viewer@Example.jp", PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cookie = answer.header("set-cookie").unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let body = answer.json();
    assert_eq!(body["via"], "session");
    assert_eq!(body["account"]["id"], id.as_str());
    assert_eq!(body["account"]["role"], "viewer");
    assert!(body["account"].get("password_hash").is_none(), "{body}");
    let (cookie, csrf) = session(&app, "viewer@example.jp").await;
    let me = app
        .send(
            "GET",
            "/api/session",
            As::Session {
                cookie: cookie.clone(),
                csrf: None,
            },
            None,
            &[],
        )
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["csrf_token"], csrf.as_str());
    // A viewer reads, and may not change.
    let session = || As::Session {
        cookie: cookie.clone(),
        csrf: Some(csrf.clone()),
    };
    assert_eq!(
        app.send("GET", "/api/status", session(), None, &[])
            .await
            .status,
        200
    );
    assert_error(
        &app.send("GET", "/api/accounts", session(), None, &[]).await,
        403,
        "forbidden",
    );

    let out = app
        .send("DELETE", "/api/session", session(), None, &[])
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = app.send("GET", "/api/session", session(), None, &[]).await;
    assert_error(&after, 401, "unauthenticated");
    assert!(
        after
            .header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "a dead session's cookie is removed"
    );
    // Session lookups are counted.
    let metrics = app.get("/metrics").await.body;
    for name in [
        "mailscore_cache_hits_total{cache=\"sessions\"}",
        "mailscore_cache_misses_total{cache=\"sessions\"}",
    ] {
        assert!(metrics.contains(name), "no {name} in\n{metrics}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_a_401_and_the_eleventh_failure_a_429_with_retry_after() {
    let app = spawn_app().await;
    account(&app, "op@example.jp", Role::Operator).await;
    let unknown = login(&app, "nobody@example.jp", PASSWORD).await;
    let wrong = login(&app, "op@example.jp", "not the password at all").await;
    let unknown = assert_error(&unknown, 401, "invalid_credentials");
    let wrong = assert_error(&wrong, 401, "invalid_credentials");
    assert_eq!(
        unknown["message"], wrong["message"],
        "which part is wrong is not said"
    );
    for _ in 2..10 {
        let answer = login(&app, "op@example.jp", "still not the password").await;
        assert_error(&answer, 401, "invalid_credentials");
    }
    let refused = login(&app, "op@example.jp", PASSWORD).await;
    assert_error(&refused, 429, "too_many_login_attempts");
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    // Tokens are not throttled.
    assert_eq!(app.get("/api/status").await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_or_expired_token_is_a_401_and_a_disabled_account_is_signed_out() {
    let app = spawn_app().await;
    let created = app
        .send(
            "POST",
            "/api/tokens",
            As::Role(Role::Admin),
            Some(&json!({"name": "ci", "role": "operator"}).to_string()),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("msk_"), "{created}");
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let me = app
        .send("GET", "/api/session", As::Bearer(secret.clone()), None, &[])
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["via"], "token");
    assert_eq!(me.json()["role"], "operator");
    let listed = app.get("/api/tokens").await.body;
    assert!(!listed.contains(&secret), "a list never shows a secret");
    // The use is written off the request's path, within the flush interval.
    let deadline =
        std::time::Instant::now() + mailscore::service::accounts::TOKEN_USE_FLUSH_INTERVAL * 3;
    loop {
        let tokens = app.get("/api/tokens").await.json();
        let this = tokens["items"]
            .as_array()
            .or(tokens.as_array())
            .and_then(|items| items.iter().find(|t| t["id"] == id.as_str()))
            .cloned()
            .unwrap_or_else(|| panic!("the token is listed: {tokens}"));
        if this["last_used_at"].is_string() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "its use is recorded: {this}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let revoked = app
        .send(
            "DELETE",
            &format!("/api/tokens/{id}"),
            As::Role(Role::Admin),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["state"], "revoked");
    let refused = app
        .send("GET", "/api/status", As::Bearer(secret), None, &[])
        .await;
    assert_error(&refused, 401, "unauthenticated");

    // An expired token, stored as an earlier process would have left it.
    let (secret, token_hash) = new_api_token();
    app.store
        .create_token(NewApiToken {
            name: TokenName::parse("old").unwrap(),
            role: Role::Admin,
            token_hash,
            created_at: now() - 2_000_000,
            expires_at: Some(now() - 1_000_000),
        })
        .await
        .unwrap();
    let expired = app
        .send("GET", "/api/status", As::Bearer(secret), None, &[])
        .await;
    assert_error(&expired, 401, "unauthenticated");
    for bad in ["msk_nonsense", "not-a-token", ""] {
        let answer = app
            .send("GET", "/api/status", As::Bearer(bad.into()), None, &[])
            .await;
        assert_error(&answer, 401, "unauthenticated");
    }
    let basic = app
        .send(
            "GET",
            "/api/status",
            As::Nobody,
            None,
            &[("authorization", "Basic YTpi")],
        )
        .await;
    assert_error(&basic, 401, "unauthenticated");
    let past = app
        .send(
            "POST",
            "/api/tokens",
            As::Role(Role::Admin),
            Some(
                &json!({"name": "x", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"})
                    .to_string(),
            ),
            &[],
        )
        .await;
    assert_error(&past, 400, "invalid_value");

    // A disabled account's session ends at once.
    let viewer = account(&app, "gone@example.jp", Role::Viewer).await;
    let (cookie, _) = session(&app, "gone@example.jp").await;
    let disabled = app
        .send(
            "PATCH",
            &format!("/api/accounts/{viewer}"),
            As::Role(Role::Admin),
            Some(&json!({"disabled": true}).to_string()),
            &[],
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let answer = app
        .send(
            "GET",
            "/api/status",
            As::Session { cookie, csrf: None },
            None,
            &[],
        )
        .await;
    assert_error(&answer, 401, "unauthenticated");
    assert_error(
        &login(&app, "gone@example.jp", PASSWORD).await,
        403,
        "account_disabled",
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_can_be_neither_demoted_nor_disabled() {
    let app = spawn_app().await;
    let admin = account(&app, "only@example.jp", Role::Admin).await;
    let patch = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.send(
                "PATCH",
                &format!("/api/accounts/{admin}"),
                As::Role(Role::Admin),
                Some(&body.to_string()),
                &[],
            )
            .await
        }
    };
    assert_error(&patch(json!({"role": "operator"})).await, 409, "last_admin");
    assert_error(&patch(json!({"disabled": true})).await, 409, "last_admin");
    assert_error(
        &patch(json!({"role": "viewer", "password": "a brand new passphrase"})).await,
        409,
        "last_admin",
    );
    let still = app.get(&format!("/api/accounts/{admin}")).await.json();
    assert_eq!(
        (still["role"].as_str(), still["disabled"].as_bool()),
        (Some("admin"), Some(false))
    );
    assert_eq!(
        login(&app, "only@example.jp", PASSWORD).await.status,
        200,
        "the password is kept"
    );

    // With a second admin the first may step down.
    let created = app
        .send(
            "POST",
            "/api/accounts",
            As::Role(Role::Admin),
            Some(
                &json!({"email": "second@example.jp", "password": PASSWORD, "role": "admin"})
                    .to_string(),
            ),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let demoted = patch(json!({"role": "operator"})).await;
    assert_eq!(demoted.status, 200, "{}", demoted.body);
    assert_eq!(demoted.json()["role"], "operator");
    let duplicate = app
        .send(
            "POST",
            "/api/accounts",
            As::Role(Role::Admin),
            Some(
                &json!({"email": "SECOND@example.jp", "password": PASSWORD, "role": "viewer"})
                    .to_string(),
            ),
            &[],
        )
        .await;
    assert_error(&duplicate, 409, "account_exists");
    let short = app
        .send(
            "POST",
            "/api/accounts",
            As::Role(Role::Admin),
            Some(
                &json!({"email": "third@example.jp", "password": "short", "role": "viewer"})
                    .to_string(),
            ),
            &[],
        )
        .await;
    assert_error(&short, 400, "invalid_value");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn_empty_app(crate::api::serve_options()).await;
    let token = app.setup_token().expect("no account: a setup is pending");
    let setup = |token: String, email: &str| {
        let body = json!({"token": token, "email": email, "password": PASSWORD}).to_string();
        let app = &app;
        async move {
            app.send("POST", "/api/setup", As::Nobody, Some(&body), &[])
                .await
        }
    };
    assert_error(
        &setup("x".repeat(43), "root@example.jp").await,
        403,
        "setup_token_invalid",
    );
    let created = setup(token.clone(), "root@example.jp").await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["role"], "admin");
    assert_error(&setup(token, "again@example.jp").await, 409, "setup_done");
    assert!(app.setup_token().is_none(), "the token is dead");
    assert_eq!(login(&app, "root@example.jp", PASSWORD).await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_admin_comes_from_the_settings_and_secure_cookies_are_secure() {
    let options = ServeOptions {
        secure_cookies: true,
        first_admin: Some(FirstAdmin {
            email: "boss@example.jp".into(),
            password: PASSWORD.into(),
        }),
        ..crate::api::serve_options()
    };
    let app = spawn_empty_app(options).await;
    assert!(app.setup_token().is_none(), "an admin exists: no setup");
    let answer = login(&app, "boss@example.jp", PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["account"]["role"], "admin");
    let cookie = answer.header("set-cookie").unwrap();
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
    app.stop().await;
}

/// A token's use noted just before a shutdown is written by the shutdown.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_use_is_written_when_the_server_stops() {
    let app = spawn_app().await;
    let created = app
        .send(
            "POST",
            "/api/tokens",
            As::Role(Role::Admin),
            Some(&json!({"name": "cron", "role": "viewer"}).to_string()),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.json()["secret"].as_str().unwrap().to_owned();
    let status = app
        .send("GET", "/api/status", As::Bearer(secret), None, &[])
        .await;
    assert_eq!(status.status, 200, "{}", status.body);
    let store = std::sync::Arc::clone(&app.store);
    app.stop().await;
    let tokens = store.tokens().await.unwrap();
    let cron = tokens
        .iter()
        .find(|t| t.name.as_str() == "cron")
        .expect("the token is stored");
    assert!(cron.last_used_at.is_some(), "{cron:?}");
}
