//! DKIM keys: a new one for `mailscore dkim keygen`, written where nothing is, and the DNS
//! record that publishes a key.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::delivery::dkim::{DkimAlgorithm, DkimError, DkimSigner, check_dns_name, generate_key};

/// A key written by [`keygen`], and the TXT record to publish for it.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub path: PathBuf,
    pub algorithm: DkimAlgorithm,
    /// `selector._domainkey.domain`
    pub record_name: String,
    /// `v=DKIM1; k=…; p=…`
    pub record_value: String,
}

/// Makes a key of `algorithm` and writes it to `out` as PKCS#8 PEM, readable by its owner
/// only; a file already at `out` is never replaced. The key is read back as the signer
/// reads it before its record is returned.
pub fn keygen(
    algorithm: DkimAlgorithm,
    out: &Path,
    domain: &str,
    selector: &str,
) -> Result<NewKey, DkimError> {
    let domain = check_dns_name("domain", domain)?;
    let selector = check_dns_name("selector", selector)?;
    // Checked before the key is made (an RSA key takes a moment); `create_new` below is
    // what guarantees it.
    if out.symlink_metadata().is_ok() {
        return Err(DkimError::KeyFileExists {
            path: out.to_path_buf(),
        });
    }
    let key = generate_key(algorithm)?;
    write_new_file(out, key.pem.as_bytes())?;
    let signer = DkimSigner::load(&domain, &selector, out)?;
    let (record_name, record_value) = signer.dns_record();
    Ok(NewKey {
        path: out.to_path_buf(),
        algorithm,
        record_name,
        record_value,
    })
}

/// Writes `contents` to a new file at `path`, mode 0600; a partly written file is removed.
fn write_new_file(path: &Path, contents: &[u8]) -> Result<(), DkimError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            DkimError::KeyFileExists {
                path: path.to_path_buf(),
            }
        } else {
            DkimError::Write {
                path: path.to_path_buf(),
                error,
            }
        }
    })?;
    if let Err(error) = file.write_all(contents).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(DkimError::Write {
            path: path.to_path_buf(),
            error,
        });
    }
    Ok(())
}

/// The record as a zone file line: the value cut into quoted strings of at most 255
/// characters, the most one TXT string holds (an RSA-2048 record is longer than that).
pub fn zone_file_line(name: &str, value: &str) -> String {
    let strings: Vec<String> = value
        .as_bytes()
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect();
    format!("{name}. IN TXT ( {} )", strings.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_record_is_cut_into_strings_of_at_most_255_characters() {
        let value = format!("v=DKIM1; k=rsa; p={}", "A".repeat(392));
        let line = zone_file_line("s1._domainkey.example.jp", &value);
        assert!(line.starts_with("s1._domainkey.example.jp. IN TXT ( \"v=DKIM1; k=rsa; p=AAA"));
        assert!(line.ends_with("\" )"));
        // The quoted strings are every other piece between quotes.
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert_eq!(strings.len(), 2);
        assert!(strings.iter().all(|s| s.len() <= 255));
        assert_eq!(strings.concat(), value);
    }
}
