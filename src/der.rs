//! Reading DER (X.509 certificates, PKCS#8 keys) just far enough to name what a file
//! holds: the few fields the TLS and DKIM code report on; and the DNS names those
//! certificates and keys are for.

/// Whether `name` (lower case, no final dot) is a DNS name: labels of letters, digits
/// and hyphens between dots, none starting or ending with a hyphen, each 1 to 63
/// characters, 253 in all (internationalised names in their `xn--` form).
pub(crate) fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// One DER element: its tag, its contents and what follows it.
pub(crate) fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n_bytes = usize::from(first & 0x7f);
        if n_bytes == 0 || n_bytes > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n_bytes)?;
        let length = bytes
            .iter()
            .fold(0usize, |length, &b| (length << 8) | usize::from(b));
        (length, rest)
    };
    let (contents, rest) = rest.split_at_checked(length)?;
    Some((tag, contents, rest))
}
