//! Rendering alone: `cargo bench --bench render`. Renders the queued emails of the
//! reference store (left by `cargo bench --bench batch`) again on one core, one at a time as
//! the sender does, and prints emails per second; unpacking the stored view and the template
//! rendering are timed apart.

use std::path::PathBuf;
use std::time::Instant;

use mailscore::domain::time::parse_date;
use mailscore::render::{EmailSettings, Renderer, unpack_view};
use mailscore::store::Store;
use mailscore::store::redb::RedbStore;
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
    let renderer = Renderer::new(&settings);
    let sample = &emails[..emails.len().min(3_000)];

    // As the sender works: one email at a time, unpacked, rendered, dropped.
    // The first round warms the allocator and the caches; the second is reported.
    let round = || {
        let (mut unpack, mut render, mut bytes) = (0.0, 0.0, 0usize);
        for email in sample {
            let started = Instant::now();
            let view =
                unpack_view(&email.content, &signer, &settings, &email.user_id).expect("unpacks");
            let unpacked = Instant::now();
            let rendered = renderer.render(&view, &email.user_id);
            render += unpacked.elapsed().as_secs_f64();
            unpack += (unpacked - started).as_secs_f64();
            bytes += rendered.html.len() + rendered.text.len();
        }
        (unpack, render, bytes)
    };
    round();
    let (unpack, render, bytes) = round();
    let n = sample.len() as f64;
    println!(
        "{} emails on one core: unpack {:.0} µs/email, templates {:.0} µs/email ({:.1} KB each); {:.0} emails/s in all",
        sample.len(),
        unpack * 1e6 / n,
        render * 1e6 / n,
        bytes as f64 / n / 1e3,
        n / (unpack + render)
    );
}
