//! An optional subject written by an OpenAI-compatible chat-completions endpoint (SPEC §5),
//! with a timeout; on any error, or an answer that is not a usable subject, the rule-based
//! subject stays.

use std::time::Duration;

use super::EmailView;
use super::subject::MAX_SUBJECT_CHARS;

/// Default time allowed for one subject.
pub const DEFAULT_LLM_TIMEOUT_MS: u64 = 3_000;

/// Where and how to ask.
#[derive(Clone, PartialEq, Eq)]
pub struct LlmSettings {
    /// The chat-completions URL, e.g. `https://api.openai.com/v1/chat/completions`.
    pub url: String,
    pub model: String,
    /// Secret: `Debug` shows only whether it is set.
    pub api_key: Option<String>,
    pub timeout: Duration,
}

/// Written by hand so that a logged or printed `{:?}` never shows the API key.
impl std::fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSettings")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

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

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the subject endpoint failed: {0}")]
    Http(String),
    #[error("the subject endpoint answered something unusable: {0}")]
    Answer(String),
}

/// Asks the endpoint for a subject (blocking; call it off the async runtime).
pub fn ask(
    settings: &LlmSettings,
    view: &EmailView,
    rule_subject: &str,
) -> Result<String, LlmError> {
    let mut body = prompt(view, rule_subject);
    body["model"] = serde_json::Value::String(settings.model.clone());
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(settings.timeout))
        .http_status_as_error(true)
        .build()
        .new_agent();
    let mut request = agent
        .post(&settings.url)
        .header("Content-Type", "application/json");
    if let Some(key) = &settings.api_key {
        request = request.header("Authorization", &format!("Bearer {key}"));
    }
    let mut response = request
        .send(body.to_string())
        .map_err(|e| LlmError::Http(e.to_string()))?;
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| LlmError::Http(e.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| LlmError::Answer(e.to_string()))?;
    let content = json["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| LlmError::Answer("no choices[0].message.content".into()))?;
    clean_subject(content).ok_or_else(|| {
        LlmError::Answer(format!(
            "not a subject of 1 to {MAX_SUBJECT_CHARS} characters: {content:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_api_key() {
        let settings = LlmSettings {
            url: "https://llm.example.test/v1/chat/completions".into(),
            model: "small".into(),
            api_key: Some("sk-test-0123456789abcdef".into()),
            timeout: Duration::from_millis(DEFAULT_LLM_TIMEOUT_MS),
        };
        let printed = format!("{settings:?} {settings:#?}");
        assert!(!printed.contains("sk-test-0123456789abcdef"), "{printed}");
        assert!(
            printed.contains("<redacted>") && printed.contains("small"),
            "{printed}"
        );
    }

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
