//! Bounces and complaints against the real server: every input (the generic JSON event, SES
//! through SNS, SendGrid's webhook, a Postfix DSN posted and dropped into the folder, and
//! `mailscore bounces import`) suppresses the address of a real queued email, links the
//! event to that email, and the next day's run gives the user no email; soft bounces count
//! to the limit; a wrong secret or a malformed body stores nothing.

use std::sync::Arc;
use std::time::Duration;

use mailscore::api::ServeOptions;
use mailscore::api::webhooks::WebhookSecret;
use mailscore::bounces::BounceSettings;
use mailscore::domain::account::Role;
use mailscore::domain::batch::EmailStatus;
use mailscore::domain::time::parse_date;
use mailscore::domain::{SuppressionReason, TimeZoneSetting, UserId};
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::store::BounceFilter;
use mailscore::store::prelude::*;
use serde_json::{Value, json};

use crate::api::{As, TestApp, serve_options, spawn_with};
use crate::helpers::{TestStore, test_signer};

const SECRET: &str = "webhook-secret-of-the-tests-0123456789";
const DATE: &str = "2025-07-02";
const NEXT_DATE: &str = "2025-07-03";

/// A user with an email queued on [`DATE`]: the address and the Message-ID the sender
/// writes for it.
struct Recipient {
    user_id: UserId,
    address: String,
    message_id: String,
}

async fn spawn_bounce_app() -> (TestApp, Vec<Recipient>) {
    let date = parse_date(DATE).unwrap();
    let t = TestStore::with_generated(300, 12, 20, 11, date).await;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.expect("the date runs");
    let domain = mailscore::render::EmailSettings::default()
        .sender_email
        .rsplit('@')
        .next()
        .unwrap()
        .to_owned();
    let recipients: Vec<Recipient> = t
        .store
        .emails(date, None)
        .await
        .unwrap()
        .into_iter()
        .map(|email| Recipient {
            message_id: format!("<{}.{}@{domain}>", email.date, email.user_id.as_str()),
            user_id: email.user_id,
            address: email.to.as_str().to_owned(),
        })
        .collect();
    assert!(recipients.len() >= 6, "enough users are emailed");
    let TestStore { dir, store } = t;
    let options = ServeOptions {
        webhooks_secret: Some(WebhookSecret::new(SECRET.to_owned())),
        bounces: BounceSettings {
            scan_interval: Duration::from_millis(100),
            ..BounceSettings::default()
        },
        ..serve_options()
    };
    (spawn_with(dir, Arc::new(store), options).await, recipients)
}

async fn suppression_of(store: &dyn Store, address: &str) -> Option<SuppressionReason> {
    store
        .suppressions()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.address.as_str().eq_ignore_ascii_case(address))
        .map(|s| s.reason)
}

/// The next day's run, and whether `user` got an email in it (others did).
async fn emailed_on_the_next_day(store: &dyn Store, user: &UserId) -> bool {
    let next = parse_date(NEXT_DATE).unwrap();
    let options = BatchOptions::new(next, TimeZoneSetting::tokyo(), test_signer());
    run_batch(store, &options).await.expect("the next day runs");
    let emails = store.emails(next, None).await.unwrap();
    assert!(!emails.is_empty(), "the next day emails the others");
    emails.iter().any(|email| &email.user_id == user)
}

/// The address is suppressed for `reason`, today's email is marked `suppressed`, the
/// stored event names the email, and the next day's run leaves the user out.
async fn assert_suppressed_and_left_out(
    app: &TestApp,
    recipient: &Recipient,
    reason: SuppressionReason,
) {
    let store = app.store.as_ref();
    assert_eq!(
        suppression_of(store, &recipient.address).await,
        Some(reason)
    );
    let date = parse_date(DATE).unwrap();
    let today = store.emails(date, Some(&recipient.user_id)).await.unwrap();
    assert_eq!(today[0].status, EmailStatus::Suppressed);
    let filter = BounceFilter {
        address: Some(mailscore::domain::EmailAddress::parse(&recipient.address).unwrap()),
        ..BounceFilter::default()
    };
    let (events, _) = store.bounces(&filter, 0, 10).await.unwrap();
    let linked = events[0].email.as_ref().expect("the event names its email");
    assert_eq!((&linked.user_id, linked.date), (&recipient.user_id, date));
    assert!(!emailed_on_the_next_day(store, &recipient.user_id).await);
}

async fn post_webhook(app: &TestApp, path: &str, body: &str) -> crate::api::Answer {
    app.send("POST", path, As::Nobody, Some(body), &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generic_json_hard_bounce_and_complaint_suppress_and_tomorrow_leaves_them_out() {
    let (app, recipients) = spawn_bounce_app().await;
    let (hard, complaint) = (&recipients[0], &recipients[1]);
    let body = json!([
        {"address": hard.address, "kind": "hard-bounce", "message_id": hard.message_id,
         "reason": "550 5.1.1 user unknown", "id": "ev-1"},
        {"address": complaint.address, "kind": "complaint", "message_id": complaint.message_id}
    ]);
    let answer = app
        .send(
            "POST",
            "/api/bounces",
            As::Role(Role::Operator),
            Some(&body.to_string()),
            &[],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let recorded = answer.json();
    assert_eq!(recorded["stored"].as_array().unwrap().len(), 2);
    assert_eq!(recorded["emails_suppressed"], 2);
    assert_eq!(recorded["stored"][0]["user_id"], hard.user_id.as_str());
    assert_eq!(recorded["stored"][0]["email_date"], DATE);

    // The same id again is a duplicate; a viewer may read but not post.
    let again = app
        .send(
            "POST",
            "/api/bounces",
            As::Role(Role::Operator),
            Some(
                &json!({"address": hard.address, "kind": "hard-bounce", "id": "ev-1"}).to_string(),
            ),
            &[],
        )
        .await;
    assert_eq!(again.json()["duplicates"], 1);
    let viewer = app
        .send(
            "POST",
            "/api/bounces",
            As::Role(Role::Viewer),
            Some("{}"),
            &[],
        )
        .await;
    assert_eq!(viewer.status, 403);

    let page = app.get("/api/bounces?kind=complaint").await;
    assert_eq!(page.status, 200);
    let page = page.json();
    assert_eq!(page["total"], 1);
    assert_eq!(page["bounces"][0]["suppressed"], "complained");
    assert_eq!(app.get("/api/bounces").await.json()["total"], 2);

    assert_suppressed_and_left_out(&app, hard, SuppressionReason::HardBounce).await;
    assert_eq!(
        suppression_of(app.store.as_ref(), &complaint.address).await,
        Some(SuppressionReason::Complained)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_body_is_a_400_that_says_what_and_where_and_stores_nothing() {
    let (app, recipients) = spawn_bounce_app().await;
    let body = json!([
        {"address": recipients[0].address, "kind": "hard-bounce"},
        {"address": recipients[1].address, "kind": "bounced"}
    ]);
    let answer = app
        .send(
            "POST",
            "/api/bounces",
            As::Role(Role::Operator),
            Some(&body.to_string()),
            &[],
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let error = answer.json();
    assert_eq!(error["code"], "bad_bounce_input");
    assert!(
        error["message"].as_str().unwrap().contains("$[1].kind"),
        "{error}"
    );
    assert!(error["hint"].as_str().unwrap().contains("hard-bounce"));
    let not_json = app
        .send(
            "POST",
            "/api/bounces",
            As::Role(Role::Operator),
            Some("{nope"),
            &[],
        )
        .await;
    assert_eq!(not_json.status, 400);
    assert!(not_json.json()["code"].is_string());
    let sendgrid = post_webhook(&app, &format!("/webhooks/sendgrid?token={SECRET}"), "{}").await;
    assert_eq!(sendgrid.status, 400);
    assert_eq!(sendgrid.json()["code"], "bad_bounce_input");
    let dsn = post_webhook(
        &app,
        &format!("/webhooks/dsn?token={SECRET}"),
        "Subject: hi\n\nhello",
    )
    .await;
    assert_eq!(dsn.status, 400);
    assert!(
        dsn.json()["message"]
            .as_str()
            .unwrap()
            .contains("Content-Type")
    );
    assert!(
        dsn.json()["hint"]
            .as_str()
            .unwrap()
            .contains("multipart/report")
    );
    assert_eq!(
        app.store
            .bounces(&BounceFilter::default(), 0, 10)
            .await
            .unwrap()
            .1,
        0
    );
    assert!(app.store.suppressions().await.unwrap().is_empty());
}

fn sns_envelope(message: &Value) -> String {
    json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:ses-bounces",
        "Message": message.to_string(),
        "Timestamp": "2025-07-02T00:01:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService.pem",
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ses_bounce_through_sns_suppresses_and_a_bad_secret_stores_nothing() {
    let (app, recipients) = spawn_bounce_app().await;
    let recipient = &recipients[2];
    let bounce = json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": recipient.address, "action": "failed",
                                   "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2025-07-01T21:00:30.000Z", "feedbackId": "0100019a-feedback"
        },
        "mail": {
            "timestamp": "2025-07-01T21:00:00.000Z", "messageId": "0100019a-ses",
            "source": "news@example.jp", "destination": [recipient.address],
            "commonHeaders": {"messageId": recipient.message_id}
        }
    });
    let envelope = sns_envelope(&bounce);

    for (path, status) in [
        ("/webhooks/ses".to_owned(), 401),
        ("/webhooks/ses?token=wrong".to_owned(), 401),
    ] {
        let refused = post_webhook(&app, &path, &envelope).await;
        assert_eq!(refused.status, status);
        assert_eq!(refused.json()["code"], "webhook_secret_refused");
    }
    let wrong_basic = app
        .send(
            "POST",
            "/webhooks/ses",
            As::Nobody,
            Some(&envelope),
            &[("authorization", "Basic c25zOndyb25n")],
        )
        .await;
    assert_eq!(wrong_basic.status, 401);
    assert!(
        app.store.suppressions().await.unwrap().is_empty(),
        "nothing stored"
    );

    let confirmation = json!({
        "Type": "SubscriptionConfirmation", "TopicArn": "arn:aws:sns:ap-northeast-1:1:ses-bounces",
        "SubscribeURL": "https://sns.ap-northeast-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "Token": "x", "Message": "You have chosen to subscribe"
    });
    let confirmed = post_webhook(
        &app,
        &format!("/webhooks/ses?token={SECRET}"),
        &confirmation.to_string(),
    )
    .await;
    assert_eq!(confirmed.status, 202);

    // Basic auth with the secret as the password, as an SNS subscription URL carries it.
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("sns:{SECRET}"))
    );
    let answer = app
        .send(
            "POST",
            "/webhooks/ses",
            As::Nobody,
            Some(&envelope),
            &[("authorization", &basic)],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["suppressed"][0], recipient.address.as_str());
    let again = post_webhook(&app, &format!("/webhooks/ses?token={SECRET}"), &envelope).await;
    assert_eq!(
        again.json()["duplicates"],
        1,
        "SNS redelivers; it counts once"
    );
    assert_suppressed_and_left_out(&app, recipient, SuppressionReason::HardBounce).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sendgrid_bounces_suppress_and_webhooks_without_a_secret_are_off() {
    let (app, recipients) = spawn_bounce_app().await;
    let recipient = &recipients[3];
    let events = json!([
        {"email": recipient.address, "timestamp": 1751403700, "smtp-id": recipient.message_id,
         "event": "bounce", "type": "bounce", "status": "5.1.1",
         "reason": "550 5.1.1 The email account that you tried to reach does not exist",
         "sg_event_id": "sg-ev-1", "sg_message_id": "sg-1.filter0001"},
        {"email": recipients[4].address, "timestamp": 1751403700, "event": "delivered",
         "sg_event_id": "sg-ev-2"}
    ]);
    let answer = post_webhook(
        &app,
        &format!("/webhooks/sendgrid?token={SECRET}"),
        &events.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        (
            answer.json()["stored"].as_u64(),
            answer.json()["ignored"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        suppression_of(app.store.as_ref(), &recipients[4].address).await,
        None
    );
    assert_suppressed_and_left_out(&app, recipient, SuppressionReason::HardBounce).await;

    let closed = crate::api::spawn_empty_app(serve_options()).await;
    let off = post_webhook(&closed, &format!("/webhooks/sendgrid?token={SECRET}"), "[]").await;
    assert_eq!(off.status, 403);
    assert_eq!(off.json()["code"], "webhooks_disabled");
}

fn postfix_dsn(recipient: &Recipient) -> String {
    include_str!("../fixtures/bounces/postfix-dsn.eml.template")
        .replace("{address}", &recipient.address)
        .replace(
            "{message_id}",
            recipient.message_id.trim_matches(['<', '>']),
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postfix_dsn_posted_to_the_endpoint_suppresses() {
    let (app, recipients) = spawn_bounce_app().await;
    let recipient = &recipients[5];
    let answer = post_webhook(
        &app,
        &format!("/webhooks/dsn?token={SECRET}"),
        &postfix_dsn(recipient),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_suppressed_and_left_out(&app, recipient, SuppressionReason::HardBounce).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postfix_dsn_dropped_into_the_folder_is_imported_by_serve_and_junk_is_rejected() {
    let (app, recipients) = spawn_bounce_app().await;
    let recipient = &recipients[0];
    let folder = app.data_dir().join("bounces");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("junk.eml"), "Subject: not a bounce\n\nhello\n").unwrap();
    std::fs::write(folder.join("postfix.eml"), postfix_dsn(recipient)).unwrap();
    std::fs::write(folder.join("notes.txt"), "left alone").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !folder.join("done/postfix.eml").exists() || !folder.join("rejected/junk.eml").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "serve imports the folder"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = std::fs::read_to_string(folder.join("rejected/junk.eml.reason.txt")).unwrap();
    assert!(
        reason.contains("multipart/report") && reason.contains("hint:"),
        "{reason}"
    );
    assert!(
        folder.join("notes.txt").exists(),
        "only .eml files are read"
    );
    assert_suppressed_and_left_out(&app, recipient, SuppressionReason::HardBounce).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_bounces_suppress_at_the_limit_within_the_window() {
    let (app, recipients) = spawn_bounce_app().await;
    let (counted, spread) = (&recipients[1], &recipients[2]);
    let soft = |address: &str, at: &str| json!({"address": address, "kind": "soft-bounce", "occurred_at": at, "reason": "452 4.2.2 mailbox full"});
    let post = |body: Value| {
        let app = &app;
        async move {
            app.send(
                "POST",
                "/api/bounces",
                As::Role(Role::Operator),
                Some(&body.to_string()),
                &[],
            )
            .await
            .json()
        }
    };
    // Two soft bounces: counted, not suppressed.
    post(json!([
        soft(&counted.address, "2025-07-01T00:00:00Z"),
        soft(&counted.address, "2025-07-02T00:00:00Z")
    ]))
    .await;
    assert_eq!(
        suppression_of(app.store.as_ref(), &counted.address).await,
        None
    );
    // Three, but more than 7 days apart: never three in one window.
    post(json!([
        soft(&spread.address, "2025-06-01T00:00:00Z"),
        soft(&spread.address, "2025-06-09T00:00:00Z"),
        soft(&spread.address, "2025-06-17T00:00:00Z"),
    ]))
    .await;
    assert_eq!(
        suppression_of(app.store.as_ref(), &spread.address).await,
        None
    );
    // The third within the window suppresses.
    let third = post(json!(soft(&counted.address, "2025-07-03T00:00:00Z"))).await;
    assert_eq!(third["suppressed"][0], counted.address.as_str());
    assert_eq!(
        suppression_of(app.store.as_ref(), &counted.address).await,
        Some(SuppressionReason::SoftBounces)
    );
    assert!(!emailed_on_the_next_day(app.store.as_ref(), &counted.user_id).await);
    let page = app
        .get("/api/bounces?kind=soft-bounce&limit=2")
        .await
        .json();
    assert_eq!(
        (
            page["total"].as_u64(),
            page["bounces"].as_array().unwrap().len()
        ),
        (Some(6), 2)
    );
    let bad = app.get("/api/bounces?kind=bounce").await;
    assert_eq!(bad.status, 400);
}
