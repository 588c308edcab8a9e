//! The optional subject endpoint, against a real HTTP server on loopback speaking the
//! OpenAI chat-completions protocol.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailscore::domain::TimeZoneSetting;
use mailscore::domain::time::parse_date;
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::store::prelude::*;
use mailscore::subject_llm::{LlmSettings, ask};

use crate::helpers::{TestStore, test_signer};

/// Serves `answers` (status, body, delay) to the next requests; records each request's
/// headers and body.
fn serve(answers: Vec<(u16, String, Duration)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut answers = answers.into_iter().cycle();
        // Bounded: at most 200 requests, then the server stops.
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { break };
            let (status, body, delay) = answers.next().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut request_body = vec![0; length];
            reader.read_exact(&mut request_body).ok();
            record.lock().unwrap().push(format!(
                "{head}\n{}",
                String::from_utf8_lossy(&request_body)
            ));
            std::thread::sleep(delay);
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).ok();
        }
    });
    (url, seen)
}

fn answer(content: &str) -> String {
    serde_json::json!({ "choices": [ { "message": { "role": "assistant", "content": content } } ] })
        .to_string()
}

fn settings(url: String, timeout: Duration) -> LlmSettings {
    LlmSettings {
        url,
        model: "test-model".into(),
        api_key: Some("sk-test".into()),
        timeout,
    }
}

fn sample_view() -> mailscore::render::EmailView {
    mailscore::render::EmailView {
        user_id: "u1".into(),
        newsletter_name: "今日のバイト厳選便".into(),
        date: "2025-11-25".into(),
        date_label: "11月25日(火)".into(),
        greeting: "直己 様".into(),
        intro: String::new(),
        preheader: String::new(),
        sections: Vec::new(),
        unsubscribe_url: String::new(),
        open_pixel_url: String::new(),
        sender_name: String::new(),
        sender_address: String::new(),
        themes: vec!["高時給".into()],
        location_label: "東京都小金井市".into(),
        n_jobs: 40,
    }
}

#[test]
fn the_endpoint_writes_the_subject_with_the_model_and_key() {
    let (url, seen) = serve(vec![(
        200,
        answer("「⚡小金井の高時給バイト40件」"),
        Duration::ZERO,
    )]);
    let subject = ask(
        &settings(url, Duration::from_secs(5)),
        &sample_view(),
        "rule subject",
    )
    .unwrap();
    assert_eq!(subject, "⚡小金井の高時給バイト40件");
    let request = seen.lock().unwrap()[0].clone();
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-test"),
        "{request}"
    );
    assert!(
        request.contains("\"model\":\"test-model\"") && request.contains("東京都小金井市"),
        "{request}"
    );
}

#[test]
fn errors_timeouts_and_unusable_answers_are_errors() {
    let (url, _) = serve(vec![(500, "{}".into(), Duration::ZERO)]);
    assert!(ask(&settings(url, Duration::from_secs(5)), &sample_view(), "r").is_err());
    let (url, _) = serve(vec![(200, answer(&"長".repeat(60)), Duration::ZERO)]);
    assert!(ask(&settings(url, Duration::from_secs(5)), &sample_view(), "r").is_err());
    let (url, _) = serve(vec![(200, answer("遅い件名"), Duration::from_secs(3))]);
    let started = Instant::now();
    assert!(
        ask(
            &settings(url, Duration::from_millis(300)),
            &sample_view(),
            "r"
        )
        .is_err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout holds"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_endpoint_leaves_the_rule_subjects_and_is_recorded() {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(600, 20, 20, 2, date).await;
    let signer = test_signer();
    let plain = BatchOptions::new(date, TimeZoneSetting::tokyo(), signer.clone());
    run_batch(&t.store, &plain).await.unwrap();
    let rule_subjects: Vec<String> = t
        .store
        .emails(date, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.subject)
        .collect();
    assert!(!rule_subjects.is_empty());

    let (url, _) = serve(vec![(503, "{}".into(), Duration::ZERO)]);
    let failing = BatchOptions {
        llm: Some(settings(url, Duration::from_secs(2))),
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), signer.clone())
    };
    let run = run_batch(&t.store, &failing).await.unwrap();
    let subjects: Vec<String> = t
        .store
        .emails(date, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.subject)
        .collect();
    assert_eq!(subjects, rule_subjects, "rule subjects stay");
    let render = run.phases.iter().find(|p| p.name == "render").unwrap();
    assert!(
        render
            .errors
            .iter()
            .any(|e| e.contains("subject endpoint failed")),
        "{:?}",
        render.errors
    );

    let (url, _) = serve(vec![(200, answer("今日のおすすめバイト"), Duration::ZERO)]);
    let working = BatchOptions {
        llm: Some(settings(url, Duration::from_secs(2))),
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), signer)
    };
    run_batch(&t.store, &working).await.unwrap();
    let subjects: Vec<String> = t
        .store
        .emails(date, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.subject)
        .collect();
    assert!(subjects.iter().all(|s| s == "今日のおすすめバイト"));
}
