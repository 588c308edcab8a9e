//! Text normalisation before any matching (SPEC §3.0): HTML tags become a space, entities
//! are decoded, then Unicode NFKC, lower case, whitespace runs collapsed to one space, trimmed.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Normalises `text` for substring matching.
pub fn normalize(text: &str) -> String {
    let without_tags = strip_tags(text);
    let decoded = if without_tags.contains('&') {
        html_escape::decode_html_entities(&without_tags).into_owned()
    } else {
        without_tags
    };
    let composed: String = if is_nfkc_quick(decoded.chars()) == IsNormalized::Yes {
        decoded
    } else {
        decoded.nfkc().collect()
    };
    let mut out = String::with_capacity(composed.len());
    let mut pending_space = false;
    for c in composed.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Replaces every `<…>` tag with one space. A `<` with no closing `>` is kept as text.
fn strip_tags(text: &str) -> String {
    if !text.contains('<') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        match rest[open..].find('>') {
            Some(close) => {
                out.push_str(&rest[..open]);
                out.push(' ');
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_entities_width_case_and_spaces_are_normalised() {
        assert_eq!(
            normalize("10:00〜18:00<br>週２日〜ＯＫ"),
            "10:00〜18:00 週2日〜ok"
        );
        assert_eq!(
            normalize("  Ｗワーク&amp;副業\t\n歓迎  "),
            "wワーク&副業 歓迎"
        );
        assert_eq!(normalize("<p>時給&nbsp;1200円</p>"), "時給 1200円");
        assert_eq!(normalize("ﾊﾞｲﾄ"), "バイト");
        assert_eq!(normalize("a < b"), "a < b");
    }

    #[test]
    fn keywords_normalise_like_fields() {
        assert_eq!(normalize("バイト　探し"), "バイト 探し");
        assert_eq!(normalize("Uber Eats"), "uber eats");
    }
}
