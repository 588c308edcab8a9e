//! The rule-based subject (SPEC §5): a template chosen deterministically per user and date,
//! with the location, the date and the strongest theme; at most 50 characters.

use super::EmailView;

/// The longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 50;

/// FNV-1a, 64 bits: stable across builds and platforms (unlike std's hasher).
fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The subject of `view` for `user_id`.
pub fn rule_subject<S: AsRef<str>>(view: &EmailView<S>, user_id: &str) -> String {
    let (month, day) = {
        let mut parts = view
            .date
            .as_ref()
            .split('-')
            .skip(1)
            .map(|p| p.trim_start_matches('0').to_owned());
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        )
    };
    let place = match view.location_label.as_ref() {
        "" => "全国".to_owned(),
        label => label.to_owned(),
    };
    let theme = view.themes.first().map_or("おすすめ", AsRef::as_ref);
    let n = view.n_jobs;
    let candidates = |place: &str| {
        vec![
            format!("⚡ {month}/{day}更新！{place}の厳選バイト{n}件"),
            format!("【{theme}】{place}で見つかる今日のバイト{n}件"),
            format!("📮 {month}/{day}のおすすめ：{theme}のバイトほか{n}件"),
            format!("{place}の{theme}バイト、今日の{n}件をお届け（{month}/{day}）"),
        ]
    };
    let index = (stable_hash(&format!("{user_id}|{}", view.date.as_ref())) % 4) as usize;
    let subject = candidates(&place)[index].clone();
    if subject.chars().count() <= MAX_SUBJECT_CHARS {
        return subject;
    }
    // A long place name: the city alone, then a trimmed one.
    let short_place: String = place
        .chars()
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let subject = candidates(&short_place)[index].clone();
    subject.chars().take(MAX_SUBJECT_CHARS).collect()
}
