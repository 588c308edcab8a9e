//! What an OpenAI-compatible chat-completions endpoint is asked for a subject (SPEC §5),
//! and how its answer becomes one. Pure: the HTTP call is in [`crate::subject_llm`].

use super::EmailView;
use super::subject::MAX_SUBJECT_CHARS;

/// The prompt: what the email holds, and the rules a subject must follow.
pub fn prompt(view: &EmailView, rule_subject: &str) -> serde_json::Value {
    let titles: Vec<&str> = view
        .sections
        .iter()
        .flat_map(|s| s.jobs.iter().take(2))
        .map(|j| j.title.as_str())
        .take(6)
        .collect();
    let place = if view.location_label.is_empty() {
        "全国"
    } else {
        view.location_label.as_str()
    };
    let summary = format!(
        "日付: {}\n地域: {}\nテーマ: {}\n求人数: {}\n主な求人: {}\n参考の件名: {}",
        view.date_label,
        place,
        view.themes.join("、"),
        view.n_jobs,
        titles.join(" / "),
        rule_subject
    );
    serde_json::json!({
        "messages": [
            {
                "role": "system",
                "content": format!(
                    "あなたはアルバイト求人メールマガジンの編集者です。読者が開きたくなる件名を日本語で1つだけ書いてください。\
                     {MAX_SUBJECT_CHARS}文字以内、誇張や虚偽は禁止、件名のみを出力してください。"
                ),
            },
            { "role": "user", "content": summary },
        ],
        "max_tokens": 80,
        "temperature": 0.7,
    })
}

/// Cleans an answer into a subject: one line, no surrounding quotes, 1 to 50 characters.
pub fn clean_subject(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line
        .trim_start_matches("件名:")
        .trim_start_matches("件名：")
        .trim();
    let quotes: &[char] = &['"', '\'', '「', '」', '『', '』', '“', '”'];
    let subject = line.trim_matches(quotes).trim();
    let length = subject.chars().count();
    (1..=MAX_SUBJECT_CHARS)
        .contains(&length)
        .then(|| subject.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_cleaned_or_refused() {
        assert_eq!(
            clean_subject("「⚡今日の高時給バイト」\n"),
            Some("⚡今日の高時給バイト".into())
        );
        assert_eq!(
            clean_subject("件名：東京の新着40件"),
            Some("東京の新着40件".into())
        );
        assert_eq!(clean_subject("   "), None);
        assert_eq!(clean_subject(&"あ".repeat(51)), None);
    }
}
