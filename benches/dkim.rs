//! DKIM signing: `cargo bench --bench dkim`. Builds real newsletter messages the way the
//! sender does (a small generated store's emails of a date, `Messages::stored_message`),
//! makes a new RSA-2048 and a new Ed25519 key, and prints signatures per second for each:
//! on one thread, and on every core at once (the sender signs on a pool).

use std::path::Path;
use std::time::{Duration, Instant};

use mailscore::delivery::dkim::{DkimAlgorithm, DkimSigner, generate_key};
use mailscore::domain::TimeZoneSetting;
use mailscore::domain::time::parse_date;
use mailscore::generate::{GenerateOptions, generate};
use mailscore::ingest::{ImportKind, ImportOptions, import_file};
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::render::{EmailSettings, Renderer};
use mailscore::service::emails::Messages;
use mailscore::store::prelude::*;
use mailscore::store::redb::RedbStore;
use mailscore::tokens::TokenSigner;

/// How long each measurement signs for.
const MEASURE_FOR: Duration = Duration::from_secs(3);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let messages = newsletter_messages(dir.path());
    let mean = messages.iter().map(Vec::len).sum::<usize>() / messages.len();
    let (smallest, largest) = (
        messages.iter().map(Vec::len).min().unwrap_or(0),
        messages.iter().map(Vec::len).max().unwrap_or(0),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} real newsletter messages, {:.1} KB on average ({:.1} to {:.1} KB); {cores} cores",
        messages.len(),
        mean as f64 / 1e3,
        smallest as f64 / 1e3,
        largest as f64 / 1e3
    );

    for algorithm in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
        let key = generate_key(algorithm).expect("a key is made");
        let path = dir.path().join(format!("{}.pem", algorithm.key_type()));
        std::fs::write(&path, key.pem).expect("the key is written");
        let signer = DkimSigner::load("example.jp", "bench", &path).expect("the key loads");
        // Warm-up, and the signed size.
        let signed = signer.sign(&messages[0]).expect("signs");
        let header = signed.len() - messages[0].len();

        let one = sign_for(&signer, &messages, 1);
        let all = sign_for(&signer, &messages, cores);
        println!(
            "{:<15} 1 thread: {:>7.0} signatures/s ({:>6.0} µs each); {cores} threads: {:>7.0} signatures/s; header {header} bytes",
            algorithm.signature_algorithm(),
            one,
            1e6 / one,
            all,
        );
    }
}

/// Signatures per second with `threads` threads signing the messages in turn for
/// [`MEASURE_FOR`].
fn sign_for(signer: &DkimSigner, messages: &[Vec<u8>], threads: usize) -> f64 {
    let started = Instant::now();
    let total: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let mut signed = 0usize;
                    let mut index = thread;
                    while started.elapsed() < MEASURE_FOR {
                        let message = &messages[index % messages.len()];
                        std::hint::black_box(signer.sign(message).expect("signs"));
                        signed += 1;
                        index += threads;
                    }
                    signed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// The emails of a small generated store's day, as complete messages.
fn newsletter_messages(dir: &Path) -> Vec<Vec<u8>> {
    let date = parse_date("2025-11-25").expect("date");
    let data = dir.join("generated");
    let options = GenerateOptions {
        jobs: 2_000,
        users: 100,
        days: 30,
        seed: 3,
        dirty: false,
        end_date: date,
    };
    generate(&options, &data).expect("the dataset is generated");
    let store = RedbStore::open(&dir.join("store")).expect("store opens");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = TokenSigner::new(b"bench key of thirty-two bytes...");
    let emails = runtime.block_on(async {
        let import = ImportOptions::new(TimeZoneSetting::tokyo());
        for (kind, file) in [
            (ImportKind::Jobs, "jobs.csv"),
            (ImportKind::Users, "users.csv"),
            (ImportKind::Actions, "actions.csv"),
        ] {
            import_file(&store, kind, &data.join(file), &import)
                .await
                .expect("the generated file imports");
        }
        let batch = BatchOptions::new(date, TimeZoneSetting::tokyo(), key.clone());
        run_batch(&store, &batch).await.expect("the date runs");
        store.emails(date, None).await.expect("emails")
    });
    let messages = Messages {
        signer: key,
        email: EmailSettings::default(),
        renderer: Renderer::builtin(),
        time_zone: TimeZoneSetting::tokyo(),
    };
    emails
        .iter()
        .map(|email| messages.stored_message(email).expect("the message builds"))
        .collect()
}
