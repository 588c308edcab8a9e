//! An optional subject written by an OpenAI-compatible chat-completions endpoint (SPEC §5),
//! with a timeout; on any error, or an answer that is not a usable subject, the rule-based
//! subject stays. The blocking HTTP client lives here, outside the pure core: the prompt
//! and the cleaning of the answer are in [`crate::render::subject_prompt`].

use std::time::Duration;

use crate::render::EmailView;
use crate::render::subject::MAX_SUBJECT_CHARS;
use crate::render::subject_prompt::{clean_subject, prompt};

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
}
