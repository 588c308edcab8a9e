//! Rendering alone: `cargo bench --bench render`. Renders the queued emails of the
//! reference store (left by `cargo bench --bench batch`) again on one core and prints
//! emails per second; unpacking the stored view and the template rendering are timed apart.

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

    let started = Instant::now();
    let views: Vec<_> = sample
        .iter()
        .map(|e| unpack_view(&e.content, &signer, &settings, &e.user_id).expect("unpacks"))
        .collect();
    let unpack = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut bytes = 0usize;
    for (view, email) in views.iter().zip(sample) {
        let rendered = renderer.render(view, &email.user_id);
        bytes += rendered.html.len() + rendered.text.len();
    }
    let render = started.elapsed().as_secs_f64();
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
