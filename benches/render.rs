//! Rendering alone: `cargo bench --bench render`. Renders the queued emails of the
//! reference store (left by `cargo bench --bench batch`) again on one core, one at a time as
//! the sender does (straight from the stored bytes), and prints emails per second; then the
//! same through an owned view, with unpacking and the templates timed apart.

use std::path::PathBuf;
use std::time::Instant;

use mailscore::domain::time::parse_date;
use mailscore::render::{EmailSettings, unpack_view};
use mailscore::store::prelude::*;
use mailscore::store::redb::RedbStore;
use mailscore::templates::load_renderer;
use mailscore::tokens::TokenSigner;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let data_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/store");
    let Ok(key) = std::fs::read(data_dir.join("secret.key")) else {
        eprintln!("no reference store: run `cargo bench --bench batch` first");
        return;
    };
    let store = RedbStore::open(&data_dir).expect("store opens");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let date = parse_date("2025-11-25").expect("date");
    let emails = runtime.block_on(store.emails(date, None)).expect("emails");
    if emails.is_empty() {
        eprintln!("no queued emails for {date}: run `cargo bench --bench batch` first");
        return;
    }
    let signer = TokenSigner::new(&key);
    let settings = EmailSettings::default();
    let renderer = load_renderer(&settings);
    let sample = &emails[..emails.len().min(3_000)];

    // As the sender works: one email at a time, unpacked, rendered, dropped.
    // The sender's path: each stored email rendered straight from its packed view. The
    // owned path (unpack to an `EmailView`, then render) is timed apart, and both must give
    // the same bytes. The first round of each warms the allocator and the caches.
    let packed = || {
        let started = Instant::now();
        let mut bytes = 0usize;
        for email in sample {
            let rendered = renderer
                .render_packed(&email.content, &signer, &settings, email.user_id.as_str())
                .expect("unpacks");
            bytes += rendered.html.len() + rendered.text.len();
        }
        (started.elapsed().as_secs_f64(), bytes)
    };
    packed();
    let (seconds, bytes) = packed();
    let owned = || {
        let (mut unpack, mut render) = (0.0, 0.0);
        for email in sample {
            let started = Instant::now();
            let view = unpack_view(&email.content, &signer, &settings, email.user_id.as_str())
                .expect("unpacks");
            let unpacked = Instant::now();
            let rendered = renderer.render(&view, email.user_id.as_str());
            render += unpacked.elapsed().as_secs_f64();
            unpack += (unpacked - started).as_secs_f64();
            drop(rendered);
        }
        (unpack, render)
    };
    owned();
    let (unpack, render) = owned();
    for email in sample.iter().take(100) {
        let view = unpack_view(&email.content, &signer, &settings, email.user_id.as_str())
            .expect("unpacks");
        let from_view = renderer.render(&view, email.user_id.as_str());
        let from_bytes = renderer
            .render_packed(&email.content, &signer, &settings, email.user_id.as_str())
            .expect("unpacks");
        assert_eq!(from_view, from_bytes, "both paths render the same email");
    }
    let n = sample.len() as f64;
    println!(
        "{} emails on one core, rendered from their stored bytes: {:.0} µs/email ({:.1} KB of HTML + text each), {:.0} emails/s",
        sample.len(),
        seconds * 1e6 / n,
        bytes as f64 / n / 1e3,
        n / seconds
    );
    println!(
        "through an owned view: unpack {:.0} µs/email, templates {:.0} µs/email, {:.0} emails/s",
        unpack * 1e6 / n,
        render * 1e6 / n,
        n / (unpack + render)
    );
}
