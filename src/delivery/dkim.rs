//! DKIM signatures (RFC 6376) of outgoing messages: `rsa-sha256` and `ed25519-sha256`
//! (RFC 8463), relaxed/relaxed canonicalization, keys read from PEM files; and new keys for
//! `mailscore dkim keygen`.
//!
//! Signing is on `ring` (constant-time, and fast enough for the sender's rate on two
//! cores); PEM is decoded by `rustls-pki-types`. `ring` cannot make RSA keys, so the
//! RustCrypto `rsa` crate makes them, and is used for nothing else.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use thiserror::Error;

use crate::der::der_element;

/// The smallest RSA key accepted: RFC 8301 asks signers for at least 2048 bits (1024 is
/// the floor), and the large mailbox providers treat smaller keys as weak.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA key accepted (ring's limit; larger keys also do not fit a DNS record
/// comfortably).
pub const MAX_RSA_BITS: usize = 4096;
/// The size of the RSA keys `mailscore dkim keygen` makes.
pub const KEYGEN_RSA_BITS: usize = 2048;
/// The longest line of the `DKIM-Signature` header (RFC 5322 §2.1.1's recommended limit).
pub const MAX_HEADER_COLUMNS: usize = 78;

/// The header fields every signature covers, in the order `h=` lists them. Each is listed
/// once more than the message has it ("over-signed"), so that a field of that name added
/// after signing (a second `From`, `Subject` or `List-Unsubscribe`) breaks the signature.
/// `List-Unsubscribe` and `List-Unsubscribe-Post` are here because Gmail and Yahoo require
/// RFC 8058's one-click unsubscribe to be covered by the signature.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
];

/// Header fields covered (and over-signed) only when the message has them.
pub const SIGNED_WHEN_PRESENT: &[&str] = &["Reply-To"];

/// The two kinds of DKIM key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// RSA with SHA-256 (`a=rsa-sha256`, `k=rsa`), which every verifier knows.
    Rsa,
    /// Ed25519 with SHA-256 (`a=ed25519-sha256`, `k=ed25519`, RFC 8463): small and fast,
    /// but not yet verified everywhere, so it is usually published beside an RSA key.
    Ed25519,
}

impl DkimAlgorithm {
    /// The `k=` of the DNS record.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The `a=` of the signature.
    pub fn signature_algorithm(self) -> &'static str {
        match self {
            Self::Rsa => "rsa-sha256",
            Self::Ed25519 => "ed25519-sha256",
        }
    }
}

#[derive(Debug, Error)]
pub enum DkimError {
    // The I/O errors are in the message, and so not a `source` too (which would print twice).
    #[error("cannot read the DKIM key file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The key file was read but holds no usable key; `problem` says why and what to do.
    #[error("the DKIM key file {} {problem}", path.display())]
    BadKey { path: PathBuf, problem: String },
    /// A domain or selector that is not a DNS name.
    #[error("DKIM {what} {value:?} {message}")]
    InvalidName {
        what: &'static str,
        value: String,
        message: String,
    },
    /// The message is not one that can be signed.
    #[error("the message cannot be signed: {0}")]
    Message(String),
    #[error("signing the message failed in the crypto library")]
    Sign,
    #[error(
        "the DKIM key file {} already exists; give another --out, or move the old key away \
         first (its DNS record may still be published)",
        path.display()
    )]
    KeyFileExists { path: PathBuf },
    #[error("cannot write the DKIM key file {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot generate a DKIM key: {0}")]
    Generate(String),
}

/// Checks a DKIM domain (`d=`) or selector (`s=`): DNS labels of letters, digits and
/// hyphens between dots (RFC 6376 §3.5), at most 63 characters each and 253 in all.
/// Returns it in lower case without a final dot.
pub fn check_dns_name(what: &'static str, value: &str) -> Result<String, DkimError> {
    let invalid = |message: &str| DkimError::InvalidName {
        what,
        value: value.to_owned(),
        message: message.to_owned(),
    };
    let name = value.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return Err(invalid("is empty"));
    }
    if name.len() > 253 {
        return Err(invalid("is longer than 253 characters"));
    }
    if !crate::der::is_dns_name(&name) {
        return Err(invalid(
            "is not a DNS name (letters, digits and hyphens between dots, each part at most \
             63 characters; internationalised names in their xn-- form)",
        ));
    }
    Ok(name)
}

/// The `[dkim]` settings: who signs (`d=`, `s=`) and the PEM file of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSettings {
    /// A DNS name in lower case ([`check_dns_name`]).
    pub domain: String,
    /// A DNS name in lower case ([`check_dns_name`]).
    pub selector: String,
    pub key_file: PathBuf,
}

impl DkimSettings {
    /// Reads the key file: the signer of these settings.
    pub fn signer(&self) -> Result<DkimSigner, DkimError> {
        DkimSigner::load(&self.domain, &self.selector, &self.key_file)
    }
}

enum SigningKey {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Signs messages for one domain and selector with one key. Cheap to share between
/// threads (`Sync`); signing takes `&self`.
pub struct DkimSigner {
    domain: String,
    selector: String,
    key: SigningKey,
    /// The `p=` of the DNS record: the base64 of the SubjectPublicKeyInfo (RSA) or of the
    /// 32-byte public key (Ed25519).
    public_key: String,
    rng: SystemRandom,
}

/// Never shows the key.
impl fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Reads the key of `key_file`, a PEM file: an RSA key of at least [`MIN_RSA_BITS`] in
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), or an Ed25519 key
    /// in PKCS#8. Every error names the file and what is wrong with it.
    pub fn load(domain: &str, selector: &str, key_file: &Path) -> Result<Self, DkimError> {
        let domain = check_dns_name("domain", domain)?;
        let selector = check_dns_name("selector", selector)?;
        let pem = std::fs::read(key_file).map_err(|error| DkimError::Read {
            path: key_file.to_path_buf(),
            error,
        })?;
        let key = parse_key(&pem).map_err(|problem| DkimError::BadKey {
            path: key_file.to_path_buf(),
            problem,
        })?;
        let public_key = match &key {
            SigningKey::Rsa(pair) => {
                BASE64.encode(rsa_subject_public_key_info(pair.public().as_ref()))
            }
            SigningKey::Ed25519(pair) => BASE64.encode(pair.public_key().as_ref()),
        };
        Ok(Self {
            domain,
            selector,
            key,
            public_key,
            rng: SystemRandom::new(),
        })
    }

    pub fn algorithm(&self) -> DkimAlgorithm {
        match self.key {
            SigningKey::Rsa(_) => DkimAlgorithm::Rsa,
            SigningKey::Ed25519(_) => DkimAlgorithm::Ed25519,
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The DNS TXT record that publishes the public key: its name
    /// (`selector._domainkey.domain`) and its value (`v=DKIM1; k=rsa; p=…`).
    pub fn dns_record(&self) -> (String, String) {
        (
            format!("{}._domainkey.{}", self.selector, self.domain),
            format!(
                "v=DKIM1; k={}; p={}",
                self.algorithm().key_type(),
                self.public_key
            ),
        )
    }

    /// The whole message with a `DKIM-Signature:` header field prepended (folded to at most
    /// [`MAX_HEADER_COLUMNS`] columns). The message itself is not changed; its lines may
    /// end in CRLF or LF (the signature covers the CRLF form SMTP sends).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DkimError> {
        let (fields, body) = split_message(message)?;
        if !fields.iter().any(|field| field.is_named("From")) {
            return Err(DkimError::Message(
                "it has no From header field, which a DKIM signature must cover".to_owned(),
            ));
        }
        let mut canonical = Vec::with_capacity(body.len() + 16);
        relaxed_body(body, &mut canonical);
        let body_hash = BASE64.encode(ring::digest::digest(&ring::digest::SHA256, &canonical));

        let signed_names = self.signed_names(&fields);
        canonical.clear();
        // Each name in h= takes the next instance from the bottom of the header (§5.4.2);
        // a name listed more often than present contributes nothing.
        for (index, name) in signed_names.iter().enumerate() {
            let earlier = signed_names[..index]
                .iter()
                .filter(|other| other.eq_ignore_ascii_case(name))
                .count();
            if let Some(field) = fields
                .iter()
                .rev()
                .filter(|field| field.is_named(name))
                .nth(earlier)
            {
                relaxed_header(field.raw, &mut canonical);
                canonical.extend_from_slice(b"\r\n");
            }
        }

        let mut header = FoldedHeader::new("DKIM-Signature:");
        header.word(&format!(
            "v=1; a={};",
            self.algorithm().signature_algorithm()
        ));
        header.word("c=relaxed/relaxed;");
        header.word(&format!("d={};", self.domain));
        header.word(&format!("s={};", self.selector));
        for (index, name) in signed_names.iter().enumerate() {
            let end = if index + 1 == signed_names.len() {
                ';'
            } else {
                ':'
            };
            if index == 0 {
                header.word(&format!("h={name}{end}"));
            } else {
                header.joined(&format!("{name}{end}"));
            }
        }
        header.word(&format!("bh={body_hash};"));
        header.word("b=");
        // The signature covers this header as it is sent, with an empty b= (§3.7).
        relaxed_header(header.text.as_bytes(), &mut canonical);

        let signature = match &self.key {
            SigningKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, &canonical, &mut signature)
                    .map_err(|_| DkimError::Sign)?;
                signature
            }
            SigningKey::Ed25519(pair) => {
                // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the header data.
                let hash = ring::digest::digest(&ring::digest::SHA256, &canonical);
                pair.sign(hash.as_ref()).as_ref().to_vec()
            }
        };
        header.split(&BASE64.encode(signature));
        header.text.push_str("\r\n");

        let mut signed = Vec::with_capacity(header.text.len() + message.len());
        signed.extend_from_slice(header.text.as_bytes());
        signed.extend_from_slice(message);
        Ok(signed)
    }

    /// The `h=` list for a message with `fields`: each covered name once more than present.
    fn signed_names(&self, fields: &[HeaderField<'_>]) -> Vec<&'static str> {
        let mut names = Vec::with_capacity(2 * SIGNED_HEADERS.len() + 2);
        let present = SIGNED_WHEN_PRESENT
            .iter()
            .filter(|name| fields.iter().any(|field| field.is_named(name)));
        for &name in SIGNED_HEADERS.iter().chain(present) {
            let count = fields.iter().filter(|field| field.is_named(name)).count();
            names.extend(std::iter::repeat_n(name, count + 1));
        }
        names
    }
}

/// The key of a PEM file, or what is wrong with it (the text follows the file's name).
fn parse_key(pem: &[u8]) -> Result<SigningKey, String> {
    let der = PrivateKeyDer::from_pem_slice(pem).map_err(|error| match error {
        rustls_pki_types::pem::Error::NoItemsFound => {
            "holds no private key in PEM form: expected -----BEGIN PRIVATE KEY----- (PKCS#8) \
             or -----BEGIN RSA PRIVATE KEY----- (PKCS#1); an encrypted key must be decrypted \
             first (openssl pkey -in KEY -out PLAIN), or make one with `mailscore dkim keygen`"
                .to_owned()
        }
        other => format!("is not a valid PEM file ({other})"),
    })?;
    let usable = |kind: &str, error: ring::error::KeyRejected| {
        format!("holds an {kind} key that ring cannot use ({error})")
    };
    match der {
        PrivateKeyDer::Pkcs1(key) => {
            let pkcs1 = key.secret_pkcs1_der();
            check_rsa_size(pkcs1)?;
            RsaKeyPair::from_der(pkcs1)
                .map(SigningKey::Rsa)
                .map_err(|e| usable("RSA", e))
        }
        PrivateKeyDer::Pkcs8(key) => {
            let der = key.secret_pkcs8_der();
            match pkcs8_algorithm(der) {
                Some((RSA_ENCRYPTION_OID, pkcs1)) => {
                    check_rsa_size(pkcs1.unwrap_or_default())?;
                    RsaKeyPair::from_pkcs8(der)
                        .map(SigningKey::Rsa)
                        .map_err(|e| usable("RSA", e))
                }
                Some((ED25519_OID, _)) => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map(SigningKey::Ed25519)
                    .map_err(|e| usable("Ed25519", e)),
                Some((EC_PUBLIC_KEY_OID, _)) => Err(unsupported("an elliptic-curve (ECDSA) key")),
                Some(_) => Err(unsupported("a key of another algorithm")),
                None => Err("holds a PKCS#8 key whose DER encoding is malformed".to_owned()),
            }
        }
        PrivateKeyDer::Sec1(_) => Err(unsupported(
            "an elliptic-curve (ECDSA) key (BEGIN EC PRIVATE KEY)",
        )),
        _ => Err(unsupported("a key of an unknown kind")),
    }
}

fn unsupported(what: &str) -> String {
    format!(
        "holds {what}; DKIM keys are RSA ({MIN_RSA_BITS} bits or more) or Ed25519 (make one \
         with `mailscore dkim keygen`)"
    )
}

/// Checks the size of an RSA key from its PKCS#1 `RSAPrivateKey` DER, so that a key too
/// small or too large is named by its size rather than by ring's "TooSmall".
fn check_rsa_size(pkcs1: &[u8]) -> Result<(), String> {
    let Some(bits) = rsa_modulus_bits(pkcs1) else {
        return Err("holds an RSA key whose DER encoding is malformed".to_owned());
    };
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "holds a {bits}-bit RSA key; DKIM keys need at least {MIN_RSA_BITS} bits (make \
             one with `mailscore dkim keygen`)"
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(format!(
            "holds a {bits}-bit RSA key; keys of {MIN_RSA_BITS} to {MAX_RSA_BITS} bits are \
             supported"
        ));
    }
    Ok(())
}

// The few DER structures a key file holds, read far enough to tell the algorithm and the
// RSA modulus' size; `ring` parses the keys themselves.

const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const ED25519_OID: &[u8] = &[0x2b, 0x65, 0x70];
const EC_PUBLIC_KEY_OID: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// The algorithm OID of a PKCS#8 `PrivateKeyInfo`, and its `privateKey` octets.
fn pkcs8_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (0x30, info, _) = der_element(der)? else {
        return None;
    };
    let (0x02, _version, rest) = der_element(info)? else {
        return None;
    };
    let (0x30, algorithm, rest) = der_element(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_element(algorithm)? else {
        return None;
    };
    let private_key = match der_element(rest) {
        Some((0x04, octets, _)) => Some(octets),
        _ => None,
    };
    Some((oid, private_key))
}

/// The size in bits of the modulus of a PKCS#1 `RSAPrivateKey`.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let (0x30, key, _) = der_element(pkcs1)? else {
        return None;
    };
    let (0x02, _version, rest) = der_element(key)? else {
        return None;
    };
    let (0x02, modulus, _) = der_element(rest)? else {
        return None;
    };
    let start = modulus.iter().position(|&b| b != 0)?;
    let digits = &modulus[start..];
    Some(digits.len() * 8 - digits[0].leading_zeros() as usize)
}

/// A DER length.
fn der_length(length: usize, out: &mut Vec<u8>) {
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let start = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - start) as u8);
        out.extend_from_slice(&bytes[start..]);
    }
}

/// The X.509 `SubjectPublicKeyInfo` of a PKCS#1 `RSAPublicKey`: what DNS records publish
/// (and what verifiers such as dkimpy and OpenDKIM read) as `p=`.
fn rsa_subject_public_key_info(rsa_public_key: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption, NULL }
    let mut algorithm = vec![0x30, 0x0d, 0x06, 0x09];
    algorithm.extend_from_slice(RSA_ENCRYPTION_OID);
    algorithm.extend_from_slice(&[0x05, 0x00]);
    let mut bit_string = vec![0x03];
    der_length(rsa_public_key.len() + 1, &mut bit_string);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(rsa_public_key);
    let mut info = vec![0x30];
    der_length(algorithm.len() + bit_string.len(), &mut info);
    info.extend_from_slice(&algorithm);
    info.extend_from_slice(&bit_string);
    info
}

/// One header field as it stands in the message: its name and every byte of it, from the
/// name to the end of its last continuation line.
struct HeaderField<'a> {
    name: &'a [u8],
    raw: &'a [u8],
    /// Where `raw` starts in the message.
    start: usize,
}

impl HeaderField<'_> {
    fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// The header fields of a message and its body (what follows the empty line).
fn split_message(message: &[u8]) -> Result<(Vec<HeaderField<'_>>, &[u8]), DkimError> {
    let mut fields: Vec<HeaderField<'_>> = Vec::with_capacity(16);
    let mut position = 0;
    let mut line_number = 0;
    while position < message.len() {
        line_number += 1;
        let end =
            memchr::memchr(b'\n', &message[position..]).map_or(message.len(), |i| position + i + 1);
        let line = &message[position..end];
        let content = line
            .strip_suffix(b"\n")
            .map_or(line, |l| l.strip_suffix(b"\r").unwrap_or(l));
        if content.is_empty() {
            return Ok((fields, &message[end..]));
        }
        if content[0] == b' ' || content[0] == b'\t' {
            let Some(field) = fields.last_mut() else {
                return Err(DkimError::Message(
                    "its first line is a continuation line, not a header field".to_owned(),
                ));
            };
            field.raw = trim_line_end(&message[field.start..end]);
        } else {
            let Some(colon) = memchr::memchr(b':', content) else {
                return Err(DkimError::Message(format!(
                    "header line {line_number} is neither a field (name: value) nor a \
                     continuation"
                )));
            };
            let name = trim_wsp_end(&content[..colon]);
            if name.is_empty() {
                return Err(DkimError::Message(format!(
                    "header line {line_number} has no field name before its colon"
                )));
            }
            fields.push(HeaderField {
                name,
                raw: content,
                start: position,
            });
        }
        position = end;
    }
    // No empty line: the message is all header and has an empty body.
    Ok((fields, &message[message.len()..]))
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_wsp(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim_wsp_end(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// The relaxed canonical form of one header field (RFC 6376 §3.4.2), without its CRLF:
/// the name in lower case, the value unfolded, each run of whitespace one space, none
/// around the colon or at the end.
fn relaxed_header(raw: &[u8], out: &mut Vec<u8>) {
    let colon = memchr::memchr(b':', raw).unwrap_or(raw.len());
    out.extend(
        trim_wsp_end(&raw[..colon])
            .iter()
            .map(u8::to_ascii_lowercase),
    );
    out.push(b':');
    let mut started = false;
    let mut space = false;
    for &byte in raw.get(colon + 1..).unwrap_or_default() {
        match byte {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = started,
            _ => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(byte);
                started = true;
            }
        }
    }
}

/// The relaxed canonical form of a body (RFC 6376 §3.4.4): whitespace at line ends
/// removed, each run of whitespace within a line one space, empty lines at the end removed,
/// every line ending in CRLF.
fn relaxed_body(body: &[u8], out: &mut Vec<u8>) {
    let mut empty_lines = 0usize;
    let mut start = 0;
    // A newsletter body is ~100 KB of base64 and HTML lines: they are found with memchr and
    // copied whole when they hold no whitespace, rather than byte by byte.
    let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    for end in ends {
        let line = &body[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = trim_wsp_end(line);
        if line.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        empty_lines = 0;
        if memchr::memchr2(b' ', b'\t', line).is_none() {
            out.extend_from_slice(line);
        } else {
            let mut space = false;
            for &byte in line {
                if is_wsp(byte) {
                    space = true;
                } else {
                    if space {
                        out.push(b' ');
                        space = false;
                    }
                    out.push(byte);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A header field built word by word, folded before a word that would pass
/// [`MAX_HEADER_COLUMNS`] (a folded line starts with one space).
struct FoldedHeader {
    text: String,
    column: usize,
}

impl FoldedHeader {
    fn new(name: &str) -> Self {
        Self {
            text: name.to_owned(),
            column: name.len(),
        }
    }

    fn fold(&mut self) {
        self.text.push_str("\r\n ");
        self.column = 1;
    }

    /// `word` after a space, or at the start of a new line.
    fn word(&mut self, word: &str) {
        if self.column + 1 + word.len() > MAX_HEADER_COLUMNS {
            self.fold();
        } else {
            self.text.push(' ');
            self.column += 1;
        }
        self.text.push_str(word);
        self.column += word.len();
    }

    /// `word` right after the last one, or at the start of a new line.
    fn joined(&mut self, word: &str) {
        if self.column + word.len() > MAX_HEADER_COLUMNS {
            self.fold();
        }
        self.text.push_str(word);
        self.column += word.len();
    }

    /// `text` (base64) right after the last word, split across lines where it must be.
    fn split(&mut self, mut text: &str) {
        while !text.is_empty() {
            if self.column >= MAX_HEADER_COLUMNS {
                self.fold();
            }
            let room = (MAX_HEADER_COLUMNS - self.column).min(text.len());
            self.text.push_str(&text[..room]);
            self.column += room;
            text = &text[room..];
        }
    }
}

/// A newly made key: the PEM text of its PKCS#8 document.
pub struct GeneratedKey {
    pub algorithm: DkimAlgorithm,
    pub pem: String,
}

/// Makes a key: RSA of [`KEYGEN_RSA_BITS`] bits, or Ed25519.
pub fn generate_key(algorithm: DkimAlgorithm) -> Result<GeneratedKey, DkimError> {
    let pem = match algorithm {
        DkimAlgorithm::Rsa => {
            use rsa::pkcs8::EncodePrivateKey;
            let mut rng = getrandom::SysRng;
            let key = rsa::PrivateKey::new(&mut rng, KEYGEN_RSA_BITS)
                .map_err(|e| DkimError::Generate(e.to_string()))?;
            key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| DkimError::Generate(e.to_string()))?
                .to_string()
        }
        DkimAlgorithm::Ed25519 => {
            let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| DkimError::Generate("no random numbers".to_owned()))?;
            pem_encode("PRIVATE KEY", document.as_ref())
        }
    };
    Ok(GeneratedKey { algorithm, pem })
}

/// `der` as a PEM block with `label`, 64 base64 characters a line.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let encoded = BASE64.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6376 §3.4.5's example message, with its <SP>, <HTAB> and <CRLF> written out.
    const RFC_EXAMPLE: &[u8] = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";

    fn relaxed_headers_of(message: &[u8]) -> Vec<u8> {
        let (fields, _) = split_message(message).unwrap();
        let mut out = Vec::new();
        for field in &fields {
            relaxed_header(field.raw, &mut out);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn relaxed_body_of(message: &[u8]) -> Vec<u8> {
        let (_, body) = split_message(message).unwrap();
        let mut out = Vec::new();
        relaxed_body(body, &mut out);
        out
    }

    #[test]
    fn the_rfc_6376_example_headers_canonicalize_as_the_rfc_shows() {
        assert_eq!(relaxed_headers_of(RFC_EXAMPLE), b"a:X\r\nb:Y Z\r\n");
    }

    #[test]
    fn the_rfc_6376_example_body_canonicalizes_as_the_rfc_shows() {
        assert_eq!(relaxed_body_of(RFC_EXAMPLE), b" C\r\nD E\r\n");
    }

    #[test]
    fn bare_line_feeds_canonicalize_as_crlf_does() {
        let lf: Vec<u8> = RFC_EXAMPLE
            .windows(2)
            .enumerate()
            .filter(|(_, pair)| *pair != b"\r\n")
            .map(|(i, _)| RFC_EXAMPLE[i])
            .chain(std::iter::once(b'\n'))
            .collect();
        assert!(!lf.contains(&b'\r'));
        assert_eq!(relaxed_headers_of(&lf), b"a:X\r\nb:Y Z\r\n");
        assert_eq!(relaxed_body_of(&lf), b" C\r\nD E\r\n");
    }

    #[test]
    fn an_empty_body_and_a_body_of_empty_lines_canonicalize_to_nothing() {
        assert_eq!(relaxed_body_of(b"A: x\r\n\r\n"), b"");
        assert_eq!(relaxed_body_of(b"A: x\r\n\r\n\r\n \r\n\t\r\n"), b"");
        assert_eq!(relaxed_body_of(b"A: x\r\n"), b"");
    }

    #[test]
    fn a_last_line_without_crlf_gets_one_and_inner_empty_lines_stay() {
        assert_eq!(
            relaxed_body_of(b"A: x\r\n\r\na\r\n\r\nb"),
            b"a\r\n\r\nb\r\n"
        );
    }

    /// RFC 6376 §3.4.4 step by step, as the RFC words it, for the property below.
    fn relaxed_body_by_the_rfc(body: &[u8]) -> Vec<u8> {
        let text = body.to_vec();
        let mut lines: Vec<Vec<u8>> = text
            .split(|&b| b == b'\n')
            .map(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let mut out = Vec::new();
                for &byte in line {
                    let wsp = byte == b' ' || byte == b'\t';
                    if wsp && out.last() == Some(&b' ') {
                        continue;
                    }
                    out.push(if wsp { b' ' } else { byte });
                }
                while out.last() == Some(&b' ') {
                    out.pop();
                }
                out
            })
            .collect();
        while lines.last().is_some_and(Vec::is_empty) {
            lines.pop();
        }
        lines
            .iter()
            .flat_map(|l| [l.as_slice(), b"\r\n"].concat())
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn the_body_canonicalization_is_the_rfcs(body in proptest::collection::vec(
            proptest::sample::select(b"ab \t\r\n=".to_vec()), 0..200,
        )) {
            let mut out = Vec::new();
            relaxed_body(&body, &mut out);
            proptest::prop_assert_eq!(out, relaxed_body_by_the_rfc(&body));
        }
    }

    #[test]
    fn a_header_line_that_is_no_field_is_an_error_naming_its_line() {
        let error = split_message(b"From: a@example.jp\r\nnot a field\r\n\r\nbody")
            .err()
            .unwrap();
        assert!(error.to_string().contains("header line 2"), "{error}");
    }

    #[test]
    fn domains_and_selectors_must_be_dns_names() {
        assert_eq!(
            check_dns_name("domain", "Mail.Example.JP.").unwrap(),
            "mail.example.jp"
        );
        assert_eq!(check_dns_name("selector", "s2025-11").unwrap(), "s2025-11");
        for bad in [
            "",
            "a b",
            "-a.example",
            "a..b",
            "x_y",
            "a;b",
            &"a".repeat(64),
        ] {
            let error = check_dns_name("selector", bad).unwrap_err().to_string();
            assert!(error.starts_with("DKIM selector"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_signature_header_folds_within_78_columns_at_allowed_places() {
        let mut header = FoldedHeader::new("DKIM-Signature:");
        header.word("v=1; a=rsa-sha256;");
        header.word("c=relaxed/relaxed;");
        header.word("d=example.jp;");
        header.word("s=s1;");
        header.word("h=From:");
        for _ in 0..20 {
            header.joined("List-Unsubscribe-Post:");
        }
        header.word("b=");
        header.split(&"A".repeat(344));
        for line in header.text.split("\r\n") {
            assert!(line.len() <= MAX_HEADER_COLUMNS, "{line:?}");
        }
        assert!(
            header
                .text
                .split("\r\n")
                .skip(1)
                .all(|l| l.starts_with(' '))
        );
        let unfolded = header.text.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("b={}", "A".repeat(344))));
    }

    #[test]
    fn a_der_length_is_short_or_long_form() {
        let mut out = Vec::new();
        der_length(5, &mut out);
        der_length(0x80, &mut out);
        der_length(270, &mut out);
        assert_eq!(out, [5, 0x81, 0x80, 0x82, 0x01, 0x0e]);
    }
}
