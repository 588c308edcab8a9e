//! DKIM as an operator and a receiver meet it: `mailscore dkim keygen` run as a binary,
//! `config check` loading the key, and real newsletter messages (a generated store's, built
//! as the sender builds them) signed with RSA (PKCS#8 and PKCS#1) and Ed25519 keys and
//! verified by dkimpy (tests/tools/dkim_verify.py) with the record's public key in place of
//! a DNS lookup; tampered messages must fail there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mailscore::delivery::dkim::{DkimAlgorithm, DkimSigner, MAX_HEADER_COLUMNS};
use mailscore::domain::TimeZoneSetting;
use mailscore::domain::time::parse_date;
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::render::{EmailSettings, Renderer};
use mailscore::service::emails::Messages;
use mailscore::store::prelude::*;

use crate::helpers::{TestStore, test_signer};

const DOMAIN: &str = "example.jp";
const SELECTOR: &str = "s1";

fn mailscore(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG");
    for (name, _) in std::env::vars() {
        if name.starts_with("MAILSCORE_") {
            command.env_remove(name);
        }
    }
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Says on standard error (which the harness does not capture) that the test skips, and why.
fn skip(why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

/// Whether python3 imports `modules` (dkimpy is `dkim`; its Ed25519 needs `nacl`).
fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// dkimpy's verdict on `message` with the TXT record `record`: whether it verified, and
/// what the script printed.
pub(crate) fn dkimpy_verifies(message: &[u8], record: &str) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/dkim_verify.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(record)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message)
        .expect("the message is written to the verifier");
    let output = child.wait_with_output().expect("the verifier ends");
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "the verifier failed to run ({code:?}): {}",
        stderr(&output)
    );
    let said = format!("{}{}", stdout(&output), stderr(&output));
    (code == Some(0), said)
}

/// Runs `dkim keygen` and returns the key file and the record value it printed.
fn keygen(dir: &Path, algorithm: &str) -> (PathBuf, String, String) {
    let out = dir.join(format!("{algorithm}.pem"));
    let output = mailscore(&dir.join("data"))
        .args(["dkim", "keygen", "--algorithm", algorithm, "--out"])
        .arg(&out)
        .args(["--domain", DOMAIN, "--selector", SELECTOR])
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let line = |prefix: &str| {
        printed
            .lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{printed}"))
            .to_owned()
    };
    assert_eq!(line("name:  "), format!("{SELECTOR}._domainkey.{DOMAIN}"));
    let value = line("value: ");
    (out, value, printed)
}

#[test]
fn keygen_writes_an_owner_only_pkcs8_key_prints_its_record_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    for (algorithm, key_type) in [("rsa", "rsa"), ("ed25519", "ed25519")] {
        let (path, value, printed) = keygen(dir.path(), algorithm);
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{algorithm}: mode {mode:o}");
        }
        assert!(
            value.starts_with(&format!("v=DKIM1; k={key_type}; p=")),
            "{value}"
        );
        // The record the command printed is the one of the key it wrote.
        let signer = DkimSigner::load(DOMAIN, SELECTOR, &path).unwrap();
        assert_eq!(signer.dns_record().1, value);
        assert!(printed.contains(&format!("{SELECTOR}._domainkey.{DOMAIN}. IN TXT ( \"")));

        // A second keygen to the same file is refused and leaves the key as it was.
        let again = mailscore(&dir.path().join("data"))
            .args(["dkim", "keygen", "--algorithm", algorithm, "--out"])
            .arg(&path)
            .args(["--domain", DOMAIN, "--selector", SELECTOR])
            .output()
            .unwrap();
        assert_eq!(again.status.code(), Some(1));
        let message = stderr(&again);
        assert!(message.contains("already exists"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
    }
    // An RSA record carries a 2048-bit key: its SubjectPublicKeyInfo is 294 bytes.
    let signer = DkimSigner::load(DOMAIN, SELECTOR, &dir.path().join("rsa.pem")).unwrap();
    let p = signer.dns_record().1;
    let p = p.rsplit("p=").next().unwrap();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
    assert_eq!(der.len(), 294);
}

#[test]
fn keygen_takes_its_defaults_from_the_settings_and_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("configured.pem");
    let output = mailscore(&dir.path().join("data"))
        .args(["dkim", "keygen", "--algorithm", "ed25519"])
        .env("MAILSCORE_DKIM_DOMAIN", "Mail.Example.JP")
        .env("MAILSCORE_DKIM_SELECTOR", "ms2025")
        .env("MAILSCORE_DKIM_KEY_FILE", &key_file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("name:  ms2025._domainkey.mail.example.jp"),
        "{}",
        stdout(&output)
    );
    assert!(key_file.exists());

    let output = mailscore(&dir.path().join("data"))
        .args(["dkim", "keygen", "--out"])
        .arg(dir.path().join("other.pem"))
        .args(["--selector", "s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--domain"), "{}", stderr(&output));
    assert!(!dir.path().join("other.pem").exists());
}

#[test]
fn config_check_loads_the_key_and_prints_its_record_or_names_the_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let (key_file, value, _) = keygen(dir.path(), "ed25519");
    let check = |key_file: &Path| {
        mailscore(&dir.path().join("data"))
            .args(["config", "check"])
            .env("MAILSCORE_DKIM_DOMAIN", DOMAIN)
            .env("MAILSCORE_DKIM_SELECTOR", SELECTOR)
            .env("MAILSCORE_DKIM_KEY_FILE", key_file)
            .output()
            .unwrap()
    };
    let output = check(&key_file);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.contains(&format!("#   value: {value}")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("\n[dkim]\ndomain = \"{DOMAIN}\"\n")),
        "{printed}"
    );

    let missing = dir.path().join("missing.pem");
    let output = check(&missing);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("cannot read the DKIM key file"),
        "{message}"
    );
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );

    let not_a_key = dir.path().join("not-a-key.pem");
    std::fs::write(&not_a_key, "just text\n").unwrap();
    let output = check(&not_a_key);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains(&not_a_key.display().to_string()),
        "{message}"
    );
    assert!(message.contains("holds no private key"), "{message}");
    assert!(
        stdout(&output).is_empty(),
        "nothing is printed for bad settings"
    );

    // One or two of the three keys: every command refuses the settings, naming what is missing.
    let output = mailscore(&dir.path().join("data"))
        .args(["config", "check"])
        .env("MAILSCORE_DKIM_DOMAIN", DOMAIN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("dkim.selector") && message.contains("dkim.key_file"),
        "{message}"
    );
}

#[test]
fn key_files_that_are_not_usable_dkim_keys_are_refused_naming_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let small = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
    let small = write(
        "small.pem",
        &small.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap(),
    );
    let ec = write(
        "ec.pem",
        &rcgen::KeyPair::generate().unwrap().serialize_pem(),
    );
    let certificate = write(
        "certificate.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let broken = write(
        "broken.pem",
        "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n",
    );
    for (path, problem) in [
        (
            &small,
            "holds a 1024-bit RSA key; DKIM keys need at least 2048 bits",
        ),
        (&ec, "holds an elliptic-curve (ECDSA) key"),
        (&certificate, "holds no private key in PEM form"),
        (&broken, "malformed"),
        (
            &dir.path().join("absent.pem"),
            "cannot read the DKIM key file",
        ),
    ] {
        let error = DkimSigner::load(DOMAIN, SELECTOR, path)
            .unwrap_err()
            .to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains(problem), "{problem:?} not in {error:?}");
    }
    let error = DkimSigner::load("not a domain", SELECTOR, &small)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("DKIM domain \"not a domain\""), "{error}");
}

/// A generated store's emails of a date, as complete messages built the way the sender
/// builds them.
async fn real_messages(count: usize) -> Vec<Vec<u8>> {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(800, 40, 30, 7, date).await;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.expect("the date runs");
    let messages = Messages {
        signer: test_signer(),
        email: EmailSettings::default(),
        renderer: Renderer::builtin(),
        time_zone: TimeZoneSetting::tokyo(),
    };
    let emails = t.store.emails(date, None).await.unwrap();
    assert!(emails.len() >= count, "{} emails", emails.len());
    emails[..count]
        .iter()
        .map(|email| messages.stored_message(email).unwrap())
        .collect()
}

/// The header field `name` of `message` with its value replaced by `value`.
fn replace_header(message: &[u8], name: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8(message.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines: Vec<String> = Vec::new();
    let mut skipping = false;
    for line in head.split("\r\n") {
        if skipping && (line.starts_with(' ') || line.starts_with('\t')) {
            continue;
        }
        skipping = false;
        if line
            .get(..name.len() + 1)
            .is_some_and(|start| start.eq_ignore_ascii_case(&format!("{name}:")))
        {
            lines.push(format!("{name}: {value}"));
            skipping = true;
        } else {
            lines.push(line.to_owned());
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{name}: {value}")))
    );
    format!("{}\r\n\r\n{body}", lines.join("\r\n")).into_bytes()
}

/// The `DKIM-Signature` field of a signed message, unfolded, and the message after it.
fn signature_of(signed: &[u8]) -> (String, &[u8]) {
    let text = std::str::from_utf8(signed).unwrap();
    assert!(
        text.starts_with("DKIM-Signature: v=1; a="),
        "{}",
        &text[..80]
    );
    let end = text
        .match_indices("\r\n")
        .map(|(i, _)| i + 2)
        .find(|&i| !text[i..].starts_with(' ') && !text[i..].starts_with('\t'))
        .unwrap();
    let header = &text[..end];
    for line in header.trim_end().split("\r\n") {
        assert!(line.len() <= MAX_HEADER_COLUMNS, "{line:?}");
    }
    (header.trim_end().replace("\r\n ", ""), &signed[end..])
}

#[tokio::test(flavor = "multi_thread")]
async fn real_messages_signed_with_rsa_and_ed25519_keys_verify_with_dkimpy_until_tampered() {
    if !python_has("dkim") {
        skip("python3 cannot import dkim (pip install dkimpy)");
        return;
    }
    let ed25519_verifiable = python_has("dkim, nacl");
    if !ed25519_verifiable {
        skip(
            "python3 cannot import nacl (pip install pynacl): the Ed25519 signatures are not verified",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (rsa_pkcs8, _, _) = keygen(dir.path(), "rsa");
    let (ed25519, _, _) = keygen(dir.path(), "ed25519");
    // The same RSA key as PKCS#1 ("BEGIN RSA PRIVATE KEY"), converted with the rsa crate.
    let rsa_pkcs1 = dir.path().join("rsa-pkcs1.pem");
    {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let pem = std::fs::read_to_string(&rsa_pkcs8).unwrap();
        let key = rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap();
        let pkcs1 = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        std::fs::write(&rsa_pkcs1, pkcs1.as_bytes()).unwrap();

        // p= is the key's SubjectPublicKeyInfo, as the rsa crate encodes it.
        use base64::Engine;
        use rsa::pkcs8::EncodePublicKey;
        let spki = key.to_public_key().to_public_key_der().unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode(spki.as_bytes());
        let signer = DkimSigner::load(DOMAIN, SELECTOR, &rsa_pkcs1).unwrap();
        assert_eq!(
            signer.dns_record().1,
            format!("v=DKIM1; k=rsa; p={expected}")
        );
    }

    let messages = real_messages(3).await;
    for (key_file, algorithm) in [
        (&rsa_pkcs8, DkimAlgorithm::Rsa),
        (&rsa_pkcs1, DkimAlgorithm::Rsa),
        (&ed25519, DkimAlgorithm::Ed25519),
    ] {
        let signer = DkimSigner::load(DOMAIN, SELECTOR, key_file).unwrap();
        assert_eq!(signer.algorithm(), algorithm);
        let (_, record) = signer.dns_record();
        let verify = algorithm == DkimAlgorithm::Rsa || ed25519_verifiable;
        for message in &messages {
            assert!(
                message.len() > 20_000,
                "a real newsletter: {} bytes",
                message.len()
            );
            let signed = signer.sign(message).unwrap();
            let (signature, rest) = signature_of(&signed);
            assert_eq!(rest, &message[..], "the message itself is not changed");
            assert!(
                signature.contains(&format!("a={};", algorithm.signature_algorithm())),
                "{signature}"
            );
            assert!(
                signature.contains("c=relaxed/relaxed; d=example.jp; s=s1;"),
                "{signature}"
            );
            // Every field once more than present (all once here), Reply-To absent.
            assert!(
                signature.contains(
                    "h=From:From:To:To:Subject:Subject:Date:Date:Message-ID:Message-ID:\
                     List-Unsubscribe:List-Unsubscribe:List-Unsubscribe-Post:\
                     List-Unsubscribe-Post:MIME-Version:MIME-Version:Content-Type:Content-Type;"
                ),
                "{signature}"
            );
            if !verify {
                continue;
            }
            let (verified, said) = dkimpy_verifies(&signed, &record);
            assert!(verified, "{key_file:?}: {said}");
            assert!(
                said.contains("looked up: s1._domainkey.example.jp"),
                "{said}"
            );

            // Changed after signing: the unsubscribe link, the body, or a second From or
            // List-Unsubscribe added above the signature's fields.
            let unsubscribe =
                replace_header(&signed, "List-Unsubscribe", "<https://evil.example/u/x>");
            let mut body = signed.clone();
            let last = body.len() - 3;
            body[last] = if body[last] == b'A' { b'B' } else { b'A' };
            let second_from = [b"From: someone@evil.example\r\n".as_slice(), &signed].concat();
            let second_unsubscribe = [
                b"List-Unsubscribe: <https://evil.example/u/x>\r\n".as_slice(),
                &signed,
            ]
            .concat();
            for (what, tampered) in [
                ("List-Unsubscribe changed", unsubscribe),
                ("body changed", body),
                ("a second From", second_from),
                ("a second List-Unsubscribe", second_unsubscribe),
            ] {
                let (verified, said) = dkimpy_verifies(&tampered, &record);
                assert!(!verified, "{what} still verifies: {said}");
            }
        }
    }
}

#[test]
fn a_reply_to_is_signed_when_present_and_line_feed_messages_sign_as_crlf_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (key_file, record, _) = keygen(dir.path(), "rsa");
    let signer = DkimSigner::load(DOMAIN, SELECTOR, &key_file).unwrap();
    let crlf = b"From: a@example.jp\r\nTo: b@example.com\r\nReply-To: c@example.jp\r\n\
                 Subject: hello\r\n\r\nline one  \r\nline two\r\n\r\n";
    let signed = signer.sign(crlf).unwrap();
    let (signature, _) = signature_of(&signed);
    assert!(signature.contains("Reply-To:Reply-To;"), "{signature}");
    let lf: Vec<u8> = String::from_utf8(crlf.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    let signed_lf = signer.sign(&lf).unwrap();
    let (signature_lf, _) = signature_of(&signed_lf);
    assert_eq!(
        signature_lf, signature,
        "the same signature for either line ending"
    );

    let error = signer
        .sign(b"To: b@example.com\r\n\r\nbody\r\n")
        .unwrap_err();
    assert!(
        error.to_string().contains("no From header field"),
        "{error}"
    );

    if !python_has("dkim") {
        skip("python3 cannot import dkim (pip install dkimpy)");
        return;
    }
    let (verified, said) = dkimpy_verifies(&signed, &record);
    assert!(verified, "{said}");
    let changed = replace_header(&signed, "Reply-To", "x@evil.example");
    assert!(!dkimpy_verifies(&changed, &record).0);
}
