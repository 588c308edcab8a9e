//! Settings: command-line flags, then `MAILSCORE_*` environment variables, then an optional
//! TOML file, then the documented defaults below, in that order of precedence.
//!
//! Every key, its environment variable and its default is listed in `mailscore.example.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::domain::TimeZoneSetting;
use crate::domain::time::DEFAULT_TIME_ZONE;
use crate::ingest::EncodingChoice;

/// Default data directory (`data_dir`, `MAILSCORE_DATA_DIR`, `--data-dir`).
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default log format (`log.format`, `MAILSCORE_LOG_FORMAT`, `--log-format`).
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Human;
/// Default log level (`log.level`, `MAILSCORE_LOG_LEVEL`, `--log-level`).
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default page cache of the embedded store in MiB (`storage.cache_mb`, `MAILSCORE_STORAGE_CACHE_MB`).
pub const DEFAULT_STORAGE_CACHE_MB: usize = 16;
/// File in the data directory holding the generated secret key when none is configured.
pub const SECRET_KEY_FILE: &str = "secret.key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("setting time_zone: {0}")]
    TimeZone(String),
    #[error("the configuration file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("setting {key}: {message}")]
    Value { key: &'static str, message: String },
}

/// The TOML file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    time_zone: Option<String>,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    storage: FileStorage,
    #[serde(default)]
    import: FileImport,
    #[serde(default)]
    email: FileEmail,
    #[serde(default)]
    scoring: crate::scoring::ScoringConfig,
    /// Key that signs the links in emails (hex or any text of 32+ characters).
    secret_key: Option<String>,
    schedule: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEmail {
    base_url: Option<String>,
    sender_name: Option<String>,
    sender_email: Option<String>,
    sender_address: Option<String>,
    newsletter_name: Option<String>,
    templates_dir: Option<PathBuf>,
    title_max_chars: Option<usize>,
    llm_url: Option<String>,
    llm_model: Option<String>,
    llm_api_key: Option<String>,
    llm_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    format: Option<LogFormat>,
    level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStorage {
    cache_mb: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileImport {
    encoding: Option<EncodingChoice>,
    max_shrink_percent: Option<u32>,
}

/// Values given on the command line or in the environment (clap reads both); `None` where
/// neither gave one.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub time_zone: Option<String>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub storage_cache_mb: Option<usize>,
    pub import_encoding: Option<EncodingChoice>,
    pub import_max_shrink_percent: Option<u32>,
    pub secret_key: Option<String>,
    pub base_url: Option<String>,
    pub schedule: Option<String>,
    pub llm_api_key: Option<String>,
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_file: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub time_zone: TimeZoneSetting,
    pub log_format: LogFormat,
    pub log_level: String,
    pub storage_cache_mb: usize,
    pub import_encoding: EncodingChoice,
    /// The snapshot guard: a job feed that would deactivate more than this percentage of
    /// the active jobs is refused (`import jobs --allow-shrink` forces one).
    pub import_max_shrink_percent: u32,
    pub email: crate::render::EmailSettings,
    /// The configured secret key, if any (else one is generated in the data directory).
    pub secret_key: Option<String>,
    /// Cron expression of the daily run.
    pub schedule: String,
    /// The subject endpoint, when `email.llm_url` is set.
    pub llm: Option<crate::render::llm::LlmSettings>,
    /// Every number of the scoring and the picks (`[scoring]`).
    pub scoring: crate::scoring::ScoringConfig,
}

impl Settings {
    pub fn load(overrides: Overrides) -> Result<Self, ConfigError> {
        let file = match &overrides.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let time_zone_name = overrides
            .time_zone
            .or(file.time_zone)
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
        let time_zone = TimeZoneSetting::parse(&time_zone_name)
            .map_err(|e| ConfigError::TimeZone(e.to_string()))?;
        if let (Some(path), Err(message)) = (&overrides.config, file.scoring.validate()) {
            return Err(ConfigError::Invalid {
                path: path.clone(),
                message,
            });
        }
        Ok(Self {
            config_file: overrides.config,
            data_dir: overrides
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            time_zone,
            log_format: overrides
                .log_format
                .or(file.log.format)
                .unwrap_or(DEFAULT_LOG_FORMAT),
            log_level: overrides
                .log_level
                .or(file.log.level)
                .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned()),
            storage_cache_mb: overrides
                .storage_cache_mb
                .or(file.storage.cache_mb)
                .unwrap_or(DEFAULT_STORAGE_CACHE_MB),
            import_encoding: overrides
                .import_encoding
                .or(file.import.encoding)
                .unwrap_or_default(),
            import_max_shrink_percent: match overrides
                .import_max_shrink_percent
                .or(file.import.max_shrink_percent)
            {
                Some(percent) if percent > 100 => {
                    return Err(ConfigError::Value {
                        key: "import.max_shrink_percent",
                        message: format!(
                            "{percent} is not a percentage; give 0 to 100 (100 lets any feed through)"
                        ),
                    });
                }
                Some(percent) => percent,
                None => crate::ingest::DEFAULT_MAX_SHRINK_PERCENT,
            },
            email: {
                let defaults = crate::render::EmailSettings::default();
                crate::render::EmailSettings {
                    base_url: overrides
                        .base_url
                        .or(file.email.base_url)
                        .unwrap_or(defaults.base_url),
                    sender_name: file.email.sender_name.unwrap_or(defaults.sender_name),
                    sender_email: file.email.sender_email.unwrap_or(defaults.sender_email),
                    sender_address: file.email.sender_address.unwrap_or(defaults.sender_address),
                    newsletter_name: file
                        .email
                        .newsletter_name
                        .unwrap_or(defaults.newsletter_name),
                    title_max_chars: file
                        .email
                        .title_max_chars
                        .unwrap_or(defaults.title_max_chars),
                    templates_dir: file.email.templates_dir,
                }
            },
            secret_key: overrides.secret_key.or(file.secret_key),
            schedule: overrides
                .schedule
                .or(file.schedule)
                .unwrap_or_else(|| crate::schedule::DEFAULT_SCHEDULE.to_owned()),
            scoring: file.scoring,
            llm: file
                .email
                .llm_url
                .map(|url| crate::render::llm::LlmSettings {
                    url,
                    model: file
                        .email
                        .llm_model
                        .unwrap_or_else(|| "gpt-4o-mini".to_owned()),
                    api_key: overrides.llm_api_key.or(file.email.llm_api_key),
                    timeout: std::time::Duration::from_millis(
                        file.email
                            .llm_timeout_ms
                            .unwrap_or(crate::render::llm::DEFAULT_LLM_TIMEOUT_MS),
                    ),
                }),
        })
    }

    /// The key that signs email links: the configured one, else the one stored in the data
    /// directory, created (random, owner-readable only) on first use.
    pub fn secret_key_bytes(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(key) = &self.secret_key {
            return Ok(key.trim().as_bytes().to_vec());
        }
        let path = self.data_dir.join(SECRET_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => return Ok(text.trim().as_bytes().to_vec()),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ConfigError::Read { path, source }),
        }
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::create_dir_all(&self.data_dir).map_err(|source| ConfigError::Read {
            path: self.data_dir.clone(),
            source,
        })?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        use std::io::Write;
        let mut file = options.open(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        file.write_all(key.as_bytes())
            .map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
        Ok(key.into_bytes())
    }

    /// The settings as TOML, for `mailscore config check`.
    pub fn to_toml(&self) -> String {
        let scoring = toml::to_string(&std::collections::BTreeMap::from([(
            "scoring",
            &self.scoring,
        )]))
        .unwrap_or_else(|error| format!("# the scoring settings do not print: {error}\n"));
        let basics = format!(
            "data_dir = {:?}\ntime_zone = {:?}\nschedule = {:?}\n\n[log]\nformat = {:?}\nlevel = {:?}\n\n[storage]\ncache_mb = {}\n\n[import]\nencoding = {:?}\nmax_shrink_percent = {}\n",
            self.data_dir.display().to_string(),
            self.time_zone.name(),
            self.schedule,
            match self.log_format {
                LogFormat::Human => "human",
                LogFormat::Json => "json",
            },
            self.log_level,
            self.storage_cache_mb,
            match self.import_encoding {
                EncodingChoice::Auto => "auto",
                EncodingChoice::Utf8 => "utf-8",
                EncodingChoice::ShiftJis => "shift_jis",
            },
            self.import_max_shrink_percent,
        );
        format!("{basics}\n{scoring}")
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\ntime_zone = \"UTC\"\n[log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        let settings = Settings::load(Overrides {
            config: Some(path),
            data_dir: Some(PathBuf::from("/from/flag")),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(settings.time_zone.name(), "UTC");
        assert_eq!(settings.log_level, "debug");
        assert_eq!(settings.storage_cache_mb, DEFAULT_STORAGE_CACHE_MB);
    }

    #[test]
    fn an_unknown_key_or_zone_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "data_directory = \"x\"\n").unwrap();
        let error = Settings::load(Overrides {
            config: Some(path),
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("data_directory"), "{error}");
        let error = Settings::load(Overrides {
            time_zone: Some("Mars/Olympus".into()),
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("Mars/Olympus"), "{error}");
    }

    #[test]
    fn the_example_file_documents_exactly_the_keys_that_parse() {
        let example = include_str!("../mailscore.example.toml");
        let file = toml::from_str::<FileSettings>(example)
            .expect("mailscore.example.toml parses with every key");
        assert_eq!(file.scoring.company_cap, 3);
    }

    #[test]
    fn scoring_keys_left_out_keep_their_defaults_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(
            &path,
            "[scoring]\ncompany_cap = 2\nseo_ignored_keywords = [\"バイト\"]\n",
        )
        .unwrap();
        let settings = Settings::load(Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        })
        .unwrap();
        let defaults = crate::scoring::ScoringConfig::default();
        assert_eq!(settings.scoring.company_cap, 2);
        assert_eq!(settings.scoring.seo_ignored_keywords, ["バイト"]);
        assert_eq!(settings.scoring.sections, defaults.sections);
        // What config check prints reads back as the same settings.
        let printed: FileSettings = toml::from_str(&settings.to_toml()).unwrap();
        assert_eq!(printed.scoring, settings.scoring);

        for (text, named) in [
            ("[scoring]\ncompany_cap = 0\n", "company_cap"),
            ("[scoring]\nseo_max_job_share = 1.5\n", "seo_max_job_share"),
            ("[scoring]\nhistroy_days = 30\n", "histroy_days"),
            (
                "[[scoring.sections]]\nkind = \"new\"\ncount = 5\n[[scoring.sections]]\nkind = \"new\"\ncount = 3\n",
                "listed twice",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = Settings::load(Overrides {
                config: Some(path.clone()),
                ..Overrides::default()
            })
            .unwrap_err();
            assert!(error.to_string().contains(named), "{text}: {error}");
        }
    }
}
