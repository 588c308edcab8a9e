//! The command line: argument parsing and one function per command.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::builder::{EnumValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::{self, ApiClient, Location, StartRun, Upload};
use crate::config::{LogFormat, Overrides, Settings};
use crate::delivery::dkim::DkimAlgorithm;
use crate::domain::time::parse_date;
use crate::domain::{ImportReport, Severity, SuppressionReason};
use crate::generate::{GenerateOptions, generate};
use crate::ingest::{EncodingChoice, ImportKind, ImportOptions, ProgressFactory, import_file};
use crate::pipeline::{BatchOptions, Phase};
use crate::service::emails::Messages;
use crate::service::exports::PicksFormat;
use crate::service::{
    create_store, demo as demo_service, dkim as dkim_service, emails as email_service, exports,
    imports as import_service, jobs as job_service, open_store, parse_address,
    parse_date as parse_date_arg, parse_job_id, parse_user as parse_user_arg, runs,
    status as status_service, suppressions as suppression_service,
};
use crate::store::redb::RedbStore;
use crate::store::{EmailQueue, Maintenance, Store};
use crate::telemetry::Logging;

/// `println!` and `print!` that return the write's error instead of panicking: a reader
/// that stops reading (`| head -1`) closes the pipe, and `main` turns the `BrokenPipe`
/// that comes back here into a quiet exit 0. Use them for all of standard output.
macro_rules! outln {
    () => {
        std::io::Write::write_all(&mut std::io::stdout().lock(), b"\n")?
    };
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(
            &mut std::io::stdout().lock(),
            format_args!("{}\n", format_args!($($arg)*)),
        )?
    };
}

/// `eprintln!` that never panics: a message for a standard error that is gone (a closed
/// pipe) is dropped, where `eprintln!` would end the command midway.
macro_rules! errln {
    ($($arg:tt)*) => {{
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr().lock(),
            format_args!("{}\n", format_args!($($arg)*)),
        );
    }};
}

macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!($($arg)*))?
    };
}

// The command line's spellings of the library's enums. Only this file knows clap: each
// enum below lists the values (and aliases) the command line accepts and the help it shows
// for them, and converts both ways to the library's type, so a variant added on one side
// and not the other does not build. The spellings are the command line's own
// (`hard-bounce`, where the stored reason is `hard_bounce`).

/// Parses a value as the mirror enum `A` (its names and aliases, listed in the help) and
/// hands the library's `T` to the command.
fn parse_as<A, T>() -> impl TypedValueParser<Value = T>
where
    A: ValueEnum + Clone + Send + Sync + 'static,
    T: From<A> + Clone + Send + Sync + 'static,
{
    EnumValueParser::<A>::new().map(T::from)
}

/// `From` in both directions between a mirror enum and the library enum it spells, with
/// exhaustive matches.
macro_rules! mirror {
    ($arg:ident <=> $library:ident { $($variant:ident),+ $(,)? }) => {
        impl From<$arg> for $library {
            fn from(value: $arg) -> Self {
                match value {
                    $($arg::$variant => Self::$variant,)+
                }
            }
        }
        impl From<$library> for $arg {
            fn from(value: $library) -> Self {
                match value {
                    $($library::$variant => Self::$variant,)+
                }
            }
        }
    };
}

/// [`ImportKind`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportKindArg {
    Jobs,
    Users,
    Actions,
    Keywords,
    Prefectures,
    Cities,
    Adjacency,
    Occupations,
    EmploymentTypes,
    SalaryTypes,
    Features,
    /// Any master or keyword file, recognised by its header (files or directories).
    Masters,
}

mirror!(ImportKindArg <=> ImportKind {
    Jobs,
    Users,
    Actions,
    Keywords,
    Prefectures,
    Cities,
    Adjacency,
    Occupations,
    EmploymentTypes,
    SalaryTypes,
    Features,
    Masters,
});

/// [`EncodingChoice`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    /// UTF-8 when the start of the file is valid UTF-8 (or has a BOM), else Shift_JIS.
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Shift_JIS with the Windows (CP932) extensions.
    #[value(
        name = "shift_jis",
        alias = "sjis",
        alias = "cp932",
        alias = "shift-jis"
    )]
    ShiftJis,
}

mirror!(EncodingArg <=> EncodingChoice { Auto, Utf8, ShiftJis });

/// [`Phase`] on the command line (`batch run --until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    Profiles,
    Scores,
    Picks,
    /// Render every email and queue it.
    Render,
}

mirror!(PhaseArg <=> Phase {
    Profiles,
    Scores,
    Picks,
    Render
});

/// [`SuppressionReason`] on the command line (`suppressions add --reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReasonArg {
    Unsubscribed,
    Complained,
    HardBounce,
    Manual,
    SoftBounces,
}

mirror!(ReasonArg <=> SuppressionReason {
    Unsubscribed,
    Complained,
    HardBounce,
    Manual,
    SoftBounces,
});

/// [`LogFormat`] on the command line and in `MAILSCORE_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

mirror!(LogFormatArg <=> LogFormat { Human, Json });

#[derive(Debug, Parser)]
#[command(
    name = "mailscore",
    version,
    about = "Mail Score System: the 40 best part-time jobs for every job seeker, every morning"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    // The defaults in these help texts come from the constants the settings use, so the
    // help cannot drift from what applies.
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_DATA_DIR",
        help = format!("Data directory (database and state) [default: {}]", crate::config::DEFAULT_DATA_DIR)
    )]
    pub data_dir: Option<PathBuf>,
    /// Optional TOML configuration file (see mailscore.example.toml)
    #[arg(long, global = true, env = "MAILSCORE_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_TIME_ZONE",
        help = format!(
            "IANA time zone of batch dates and offset-less timestamps [default: {}]",
            crate::domain::time::DEFAULT_TIME_ZONE
        )
    )]
    pub time_zone: Option<String>,
    /// Log format [default: json for serve, human for the other commands]
    #[arg(long, global = true, env = "MAILSCORE_LOG_FORMAT", value_parser = parse_as::<LogFormatArg, LogFormat>())]
    pub log_format: Option<LogFormat>,
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_LOG_LEVEL",
        help = format!(
            "Log level: error, warn, info, debug, trace [default: {}]",
            crate::config::DEFAULT_LOG_LEVEL
        )
    )]
    pub log_level: Option<String>,
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_STORAGE_CACHE_MB",
        help = format!(
            "Page cache of the embedded database in MiB [default: {}]",
            crate::config::DEFAULT_STORAGE_CACHE_MB
        )
    )]
    pub storage_cache_mb: Option<usize>,
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_IMPORT_MAX_SHRINK_PERCENT",
        help = format!(
            "Refuse a job feed that would deactivate more than this percentage of the active jobs [default: {}]",
            crate::ingest::DEFAULT_MAX_SHRINK_PERCENT
        )
    )]
    pub max_shrink_percent: Option<u32>,
    /// Key that signs email links [default: generated into DATA_DIR/secret.key]
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// API key of the subject endpoint (`email.llm_url`)
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_LLM_API_KEY",
        hide_env_values = true
    )]
    pub llm_api_key: Option<String>,
    /// Shared secret of the bounce webhooks (`webhooks.secret`)
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_WEBHOOKS_SECRET",
        hide_env_values = true
    )]
    pub webhooks_secret: Option<String>,
    /// Users without a consent record get no email (`delivery.require_consent`)
    #[arg(long, global = true, env = "MAILSCORE_DELIVERY_REQUIRE_CONSENT")]
    pub require_consent: Option<bool>,
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_SCHEDULE",
        help = format!(
            "Cron schedule of the daily run (minute hour day month weekday) [default: {:?}]",
            crate::schedule::DEFAULT_SCHEDULE
        )
    )]
    pub schedule: Option<String>,
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_BASE_URL",
        help = format!(
            "Public URL of the server, for links in emails [default: {}]",
            crate::render::DEFAULT_BASE_URL
        )
    )]
    pub base_url: Option<String>,
    /// Domain that signs the outgoing messages with DKIM (`d=`); DKIM needs the domain,
    /// the selector and the key file together [default: unsigned]
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_DKIM_DOMAIN",
        value_name = "DOMAIN"
    )]
    pub dkim_domain: Option<String>,
    /// DKIM selector (`s=`): the key's DNS record is SELECTOR._domainkey.DOMAIN
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_DKIM_SELECTOR",
        value_name = "SELECTOR"
    )]
    pub dkim_selector: Option<String>,
    /// The DKIM private key, a PEM file: RSA (PKCS#1 or PKCS#8, 2048 bits or more) or
    /// Ed25519 (PKCS#8); `mailscore dkim keygen` makes one
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_DKIM_KEY_FILE",
        value_name = "FILE"
    )]
    pub dkim_key_file: Option<PathBuf>,
    /// The SMTP server, in lettre's URL form: smtp://host:port,
    /// smtp://user@host:587?tls=required, smtps://host:465; the password may also come
    /// from MAILSCORE_SMTP_PASSWORD [default: nothing is sent]
    #[arg(long, global = true, env = "MAILSCORE_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,
    /// Messages per second at most; 0 is no limit [default: 0]
    #[arg(
        long,
        global = true,
        env = "MAILSCORE_SMTP_RATE_PER_SECOND",
        value_name = "N"
    )]
    pub smtp_rate_per_second: Option<u32>,
    /// Send the command to the server at this URL, with the API token in MAILSCORE_TOKEN
    /// [default: the server that holds the data directory, when one runs there]
    #[arg(long, global = true, env = "MAILSCORE_SERVER", value_name = "URL")]
    pub server: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import input files: the job feed, users, actions, masters or keywords
    Import(ImportArgs),
    /// Write a realistic synthetic dataset (jobs.csv, users.csv, actions.csv)
    Generate(GenerateArgs),
    /// List past imports, or show one import's report
    Imports {
        #[command(subcommand)]
        command: ImportsCommand,
    },
    /// Show stored jobs
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// The suppression list: addresses that get no email (unsubscribed, complained, bounced)
    Suppressions {
        #[command(subcommand)]
        command: SuppressionsCommand,
    },
    /// Run the daily batch for a date
    Batch {
        #[command(subcommand)]
        command: BatchCommand,
    },
    /// Export a date's picks
    Picks {
        #[command(subcommand)]
        command: PicksCommand,
    },
    /// Export a date's job scores
    Scores {
        #[command(subcommand)]
        command: ScoresCommand,
    },
    /// Preview or export the queued emails
    Emails {
        #[command(subcommand)]
        command: EmailsCommand,
    },
    /// Generate the reference dataset on first use, import it, run today's batch, show where to look
    Demo(DemoArgs),
    /// Serve the JSON API (with its OpenAPI document and explorer), health probes and
    /// metrics over HTTP, until SIGTERM or Ctrl-C
    Serve(ServeArgs),
    /// Run the daily batch on its cron schedule (in the configured time zone), until stopped
    Scheduler {
        /// Print the next N run times and exit
        #[arg(long)]
        print: Option<usize>,
    },
    /// Counts of what is stored
    Status,
    /// Give the database file's unused space back to the file system (`status` shows how
    /// much there is); run it while no other mailscore process uses the data directory
    Compact,
    /// Bounces and complaints
    Bounces {
        #[command(subcommand)]
        command: BouncesCommand,
    },
    /// Check the configuration and print the settings in force
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// DKIM keys, which sign the outgoing messages
    Dkim {
        #[command(subcommand)]
        command: DkimCommand,
    },
    /// Send a date's due emails over SMTP (smtp.url), signed with the DKIM key, and exit
    /// when none is left to try
    Send(SendArgs),
    /// The state of sending, and the operator's say over it: pause, resume, cancel a day,
    /// retry the emails of unknown outcome
    Delivery {
        #[command(subcommand)]
        command: DeliveryCommand,
    },
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The date whose emails go out; for a past date every pending one [default: today]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Render and sign every due email, send nothing and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeliveryCommand {
    /// The date's emails by status, whether sending is paused and why
    Status {
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
    },
    /// Pause sending until `delivery resume`
    Pause {
        /// Why, for the record and the log
        #[arg(long, default_value = "paused by an operator")]
        reason: String,
    },
    /// Resume sending after a pause (automatic or by hand)
    Resume,
    /// Cancel the date's sending: its pending emails become cancelled
    Cancel {
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: String,
    },
    /// Put the date's emails of unknown outcome (left sending by a process that died)
    /// back to pending, so that the next send tries them: they may reach some recipients
    /// twice
    RetryUnknown {
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Write a new DKIM private key (PKCS#8 PEM, mode 0600; never over an existing file)
    /// and print the DNS TXT record to publish for it
    Keygen(KeygenArgs),
}

/// [`DkimAlgorithm`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DkimAlgorithmArg {
    /// RSA, 2048 bits (`rsa-sha256`): every receiver verifies it
    Rsa,
    /// Ed25519 (`ed25519-sha256`, RFC 8463): publish it beside an RSA key, as not every
    /// receiver verifies it yet
    Ed25519,
}

mirror!(DkimAlgorithmArg <=> DkimAlgorithm { Rsa, Ed25519 });

#[derive(Debug, Args)]
pub struct KeygenArgs {
    #[arg(long, default_value = "rsa", value_parser = parse_as::<DkimAlgorithmArg, DkimAlgorithm>())]
    pub algorithm: DkimAlgorithm,
    /// The key file to write [default: dkim.key_file]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The signing domain of the DNS record [default: dkim.domain]
    #[arg(long)]
    pub domain: Option<String>,
    /// The selector of the DNS record [default: dkim.selector]
    #[arg(long)]
    pub selector: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the files hold (`masters`: recognise each file's kind from its header)
    #[arg(value_parser = parse_as::<ImportKindArg, ImportKind>())]
    pub kind: ImportKind,
    /// Files, or directories of .csv files
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Input encoding [default: auto]
    #[arg(long, env = "MAILSCORE_IMPORT_ENCODING", value_parser = parse_as::<EncodingArg, EncodingChoice>())]
    pub encoding: Option<EncodingChoice>,
    /// Print the reports as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Take a job feed even when it deactivates more than --max-shrink-percent of the
    /// active jobs (the shrink is real, not a cut-off file)
    #[arg(long)]
    pub allow_shrink: bool,
}

/// How big a generated dataset is (the reference size by default), and its seed.
#[derive(Debug, Args)]
pub struct DatasetSize {
    #[arg(long, default_value_t = 100_000)]
    pub jobs: usize,
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Days of actions before the end date
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl DatasetSize {
    fn options(&self, end_date: jiff::civil::Date, dirty: bool) -> GenerateOptions {
        GenerateOptions {
            jobs: self.jobs,
            users: self.users,
            days: self.days,
            seed: self.seed,
            dirty,
            end_date,
        }
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub size: DatasetSize,
    /// The batch date the data leads up to (YYYY-MM-DD) [default: today]
    #[arg(long)]
    pub end_date: Option<String>,
    /// Add realistic bad rows (repeats, invalid values, junk rows)
    #[arg(long)]
    pub dirty: bool,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ImportsCommand {
    /// The most recent imports, newest first
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One import's full report
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BouncesCommand {
    /// Import the RFC 3464 delivery-status notifications (`*.eml`) of a folder (default
    /// DATA_DIR/bounces): each file's hard bounces suppress at once, its soft bounces
    /// count; imported files move to done/, unreadable ones to rejected/ with the reason.
    /// Exits 3 when a file was rejected. A running `serve` imports the folder itself.
    Import {
        /// The folder; default DATA_DIR/bounces.
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SuppressionsCommand {
    /// Every suppressed address, with its reason and when
    List,
    /// Suppress an address: no picks and no email from the next run on, and its queued
    /// pending or failed emails are marked suppressed now
    Add {
        address: String,
        #[arg(long, default_value = "manual", value_parser = parse_as::<ReasonArg, SuppressionReason>())]
        reason: SuppressionReason,
        /// Why, for the record
        #[arg(long)]
        note: Option<String>,
    },
    /// Lift the suppression of an address
    Remove { address: String },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Every column of one job, as JSON
    Show { job_id: String },
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Compute (and store) the date's profiles, job scores and picks
    Run {
        /// Batch date (YYYY-MM-DD) [default: today in the configured time zone]
        #[arg(long)]
        date: Option<String>,
        /// Stop after this phase
        #[arg(long, default_value = "render", value_parser = parse_as::<PhaseArg, Phase>())]
        until: Phase,
        /// Users per chunk: each chunk's picks and emails are stored together, and a run
        /// killed midway resumes after the last stored chunk when rerun with the same size
        #[arg(long, default_value_t = crate::pipeline::DEFAULT_CHUNK_USERS as u32, value_parser = clap::value_parser!(u32).range(1..))]
        chunk_users: u32,
    },
    /// The most recent runs
    List {
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
}

/// [`PicksFormat`] on the command line (`picks export --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

mirror!(ExportFormat <=> PicksFormat { Csv, Jsonl });

#[derive(Debug, Subcommand)]
pub enum PicksCommand {
    /// Write the picks of a date (rows sorted by user, section order, rank)
    Export {
        #[arg(long)]
        date: String,
        /// Only this user's picks
        #[arg(long)]
        user: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// File to write, or `-` for standard output
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScoresCommand {
    /// Write every job's scores of a date as CSV
    Export {
        #[arg(long)]
        date: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum EmailsCommand {
    /// Write one user's email of a date as a complete RFC 5322 message (.eml)
    Preview {
        #[arg(long)]
        user: String,
        #[arg(long)]
        date: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write every email of a date into a directory (one .eml per user, and index.csv)
    Export {
        #[arg(long)]
        date: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(
        long,
        env = "MAILSCORE_LISTEN",
        help = format!(
            "IP address and port to listen on (0.0.0.0:8080 for every interface) [default: {}]",
            crate::config::DEFAULT_LISTEN
        )
    )]
    pub listen: Option<String>,
    /// Certificate chain to serve over TLS, a PEM file (reloaded when it changes)
    #[arg(long, env = "MAILSCORE_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert, a PEM file
    #[arg(long, env = "MAILSCORE_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a certificate for this machine made and kept in DATA_DIR/tls/
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Mark the session cookie Secure: the server is reached over TLS (its own or a
    /// proxy's) [default: false]
    #[arg(long, env = "MAILSCORE_SECURE_COOKIES", value_name = "BOOL")]
    pub secure_cookies: Option<bool>,
    /// The first admin's address, created when no account exists; the password comes from
    /// MAILSCORE_ADMIN_PASSWORD only [default: a one-time setup link in the log]
    #[arg(long, env = "MAILSCORE_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    #[arg(
        long,
        env = "MAILSCORE_LOG_FILES",
        value_name = "BOOL",
        help = format!(
            "Also write the log to daily rotated JSON files [default: {}]",
            crate::config::DEFAULT_LOG_FILES
        )
    )]
    pub log_files: Option<bool>,
    #[arg(
        long,
        env = "MAILSCORE_LOG_DIR",
        value_name = "DIR",
        help = format!(
            "Directory of the daily log files [default: DATA_DIR/{}]",
            crate::config::LOG_DIR_NAME
        )
    )]
    pub log_dir: Option<PathBuf>,
    #[arg(
        long,
        env = "MAILSCORE_LOG_RETENTION_DAYS",
        value_name = "DAYS",
        help = format!(
            "How many daily log files to keep, the newest [default: {}]",
            crate::config::DEFAULT_LOG_RETENTION_DAYS
        )
    )]
    pub log_retention_days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub size: DatasetSize,
    /// End after the day's run instead of serving the store
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the settings and print them as TOML
    Check,
}

impl Cli {
    /// Whether the command is `serve`, which logs to standard output (JSON lines unless a
    /// format is given) where the other commands log to standard error.
    pub fn is_serve(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }

    /// Whether the command serves HTTP while runs may execute in it (`serve`, `demo`):
    /// then the runs' CPU-bound work yields to the requests ([`crate::threads`]).
    pub fn serves_requests(&self) -> bool {
        matches!(self.command, Command::Serve(_) | Command::Demo(_))
    }

    pub fn overrides(&self) -> Overrides {
        let encoding = match &self.command {
            Command::Import(args) => args.encoding,
            _ => None,
        };
        let (listen, tls_cert, tls_key, tls_self_signed) = match &self.command {
            Command::Serve(args) => (
                args.listen.clone(),
                args.tls_cert.clone(),
                args.tls_key.clone(),
                args.tls_self_signed,
            ),
            _ => (None, None, None, false),
        };
        let (secure_cookies, admin_email, admin_password) = match &self.command {
            Command::Serve(args) => (
                args.secure_cookies,
                args.admin_email.clone(),
                // From the environment only: never a flag (the process list shows those).
                std::env::var(crate::config::ADMIN_PASSWORD_ENV).ok(),
            ),
            _ => (None, None, None),
        };
        let (log_files, log_dir, log_retention_days) = match &self.command {
            Command::Serve(args) => (
                args.log_files,
                args.log_dir.clone(),
                args.log_retention_days,
            ),
            _ => (None, None, None),
        };
        Overrides {
            log_files,
            log_dir,
            log_retention_days,
            listen,
            tls_cert,
            tls_key,
            tls_self_signed,
            secure_cookies,
            admin_email,
            admin_password,
            config: self.global.config.clone(),
            data_dir: self.global.data_dir.clone(),
            time_zone: self.global.time_zone.clone(),
            log_format: self.global.log_format,
            log_level: self.global.log_level.clone(),
            storage_cache_mb: self.global.storage_cache_mb,
            import_encoding: encoding,
            import_max_shrink_percent: self.global.max_shrink_percent,
            secret_key: self.global.secret_key.clone(),
            schedule: self.global.schedule.clone(),
            llm_api_key: self.global.llm_api_key.clone(),
            webhooks_secret: self.global.webhooks_secret.clone(),
            require_consent: self.global.require_consent,
            dkim_domain: self.global.dkim_domain.clone(),
            dkim_selector: self.global.dkim_selector.clone(),
            dkim_key_file: self.global.dkim_key_file.clone(),
            smtp_url: self.global.smtp_url.clone(),
            smtp_rate_per_second: self.global.smtp_rate_per_second,
            // From the environment only: never a flag (the process list shows those).
            smtp_password: std::env::var(crate::config::SMTP_PASSWORD_ENV).ok(),
            base_url: self.global.base_url.clone(),
        }
    }
}

/// Today's date in `time_zone`, from the system clock: the default batch date. The domain
/// takes dates and instants as input; reading the clock is the command line's business.
fn today(time_zone: &crate::domain::TimeZoneSetting) -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(time_zone.zone().clone())
        .date()
}

impl Command {
    /// Whether the command uses the store (and so goes to the server that holds it, when
    /// one runs), or never touches it and runs alone whatever runs beside it.
    fn uses_store(&self) -> bool {
        !matches!(
            self,
            Command::Generate(_)
                | Command::Config { .. }
                | Command::Dkim { .. }
                | Command::Scheduler { print: Some(_) }
        )
    }

    /// Whether the command goes to a server that holds the store: those an operation of
    /// the API does. The others are refused next to a server.
    fn is_forwarded(&self) -> bool {
        matches!(
            self,
            Command::Import(_)
                | Command::Imports { .. }
                | Command::Jobs { .. }
                | Command::Suppressions { .. }
                | Command::Batch { .. }
                | Command::Status
        )
    }

    /// How the command is named in the message that refuses to send it to a server.
    fn name(&self) -> &'static str {
        match self {
            Command::Import(_) => "import",
            Command::Generate(_) => "generate",
            Command::Imports { .. } => "imports",
            Command::Jobs { .. } => "jobs",
            Command::Suppressions { .. } => "suppressions",
            Command::Batch { .. } => "batch",
            Command::Picks { .. } => "picks export",
            Command::Scores { .. } => "scores export",
            Command::Emails {
                command: EmailsCommand::Preview { .. },
            } => "emails preview",
            Command::Emails {
                command: EmailsCommand::Export { .. },
            } => "emails export",
            Command::Demo(_) => "demo",
            Command::Serve(_) => "serve",
            Command::Scheduler { .. } => "scheduler",
            Command::Status => "status",
            Command::Compact => "compact",
            Command::Bounces { .. } => "bounces import",
            Command::Config { .. } => "config check",
            Command::Dkim { .. } => "dkim keygen",
            Command::Send(_) => "send",
            Command::Delivery { .. } => "delivery",
        }
    }
}

/// Runs a command; the returned code is the process's exit status. `logging` is what
/// `telemetry::init` installed (the server reads its ring and turns its files on).
///
/// A command that uses the store goes to the server [`client::locate`] finds (the one
/// `--server` names, or the live one that holds the data directory) when there is one;
/// those no API operation does are refused then, naming the server.
pub async fn run(cli: Cli, settings: Settings, logging: &Logging) -> Result<i32> {
    let location = if cli.command.uses_store() {
        client::locate(
            &settings.data_dir,
            cli.global.server.as_deref(),
            std::env::var(client::TOKEN_ENV).ok(),
        )?
    } else {
        Location::Local
    };
    let server = match &location {
        Location::Server(client) => Some(client),
        Location::Local => None,
    };
    if let Some(client) = server
        && !cli.command.is_forwarded()
    {
        return Err(client.refuse(cli.command.name()).into());
    }
    match cli.command {
        Command::Import(args) => {
            import(args, cli.global.max_shrink_percent, &settings, server).await
        }
        Command::Generate(args) => generate_dataset(args, &settings),
        Command::Imports { command } => imports(command, &settings, server).await,
        Command::Jobs { command } => jobs(command, &settings, server).await,
        Command::Suppressions { command } => suppressions(command, &settings, server).await,
        Command::Batch { command } => batch(command, &settings, server).await,
        Command::Picks {
            command:
                PicksCommand::Export {
                    date,
                    user,
                    format,
                    out,
                },
        } => export_picks(&settings, &date, user.as_deref(), format, &out).await,
        Command::Scores {
            command: ScoresCommand::Export { date, out },
        } => export_scores(&settings, &date, &out).await,
        Command::Emails { command } => emails(command, &settings).await,
        Command::Demo(args) => demo(args, &settings, logging).await,
        Command::Serve(_) => serve(&settings, logging).await,
        Command::Scheduler { print } => scheduler(print, &settings).await,
        Command::Status => status(&settings, server).await,
        Command::Compact => {
            let store = open_store(&settings)?;
            let started = Instant::now();
            let (before, after) = store.compact().await?;
            outln!(
                "{}: {:.1} MB → {:.1} MB in {:.1} s",
                store.path().display(),
                before as f64 / 1e6,
                after as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        Command::Bounces {
            command: BouncesCommand::Import { dir },
        } => bounces_import(dir, &settings).await,
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(&settings),
        Command::Dkim {
            command: DkimCommand::Keygen(args),
        } => dkim_keygen(args, &settings),
        Command::Send(args) => send(args, &settings).await,
        Command::Delivery { command } => delivery(command, &settings).await,
    }
}

/// `send`: the date's due emails over SMTP; exit status 1 when some failed or sending is
/// paused.
async fn send(args: SendArgs, settings: &Settings) -> Result<i32> {
    use crate::service::delivery::{SendOptions, Sender};
    let today = today(&settings.time_zone);
    let date = match &args.date {
        Some(text) => {
            parse_date(text).with_context(|| format!("--date {text:?}: expected YYYY-MM-DD"))?
        }
        None => today,
    };
    let dkim = match settings.dkim.as_ref().map(|dkim| dkim.signer()).transpose() {
        Ok(signer) => signer.map(Arc::new),
        Err(error) => {
            errln!("error: setting dkim.key_file: {error}");
            return Ok(2);
        }
    };
    let store: Arc<dyn Store> = Arc::new(open_store(settings)?);
    let messages = Arc::new(Messages::load(settings)?);
    let sender = match Sender::new(store, messages, dkim, settings.smtp.clone(), args.dry_run) {
        Ok(sender) => sender,
        Err(error) => {
            errln!("error: {error}");
            return Ok(2);
        }
    };
    let report = sender
        .send_day(
            date,
            SendOptions {
                dry_run: args.dry_run,
                all_pending: date < today,
            },
        )
        .await?;
    if report.dry_run {
        outln!(
            "{date}: dry run: {} due emails rendered and signed, nothing sent ({} not due yet)",
            report.due,
            report.not_due
        );
    } else {
        outln!(
            "{date}: {} sent, {} failed ({} hard bounces suppressed), {} retried attempts, \
             {} cancelled, of {} due; {} not due yet; {:.1} emails/s",
            report.sent,
            report.failed,
            report.hard_bounced,
            report.retried,
            report.cancelled,
            report.due,
            report.not_due,
            report.rate_per_second
        );
    }
    if report.resent_unknown > 0 {
        outln!(
            "{} emails of unknown outcome were sent again (smtp.at_least_once)",
            report.resent_unknown
        );
    }
    if !report.unknown.is_empty() {
        let users: Vec<&str> = report.unknown.iter().map(|user| user.as_str()).collect();
        outln!(
            "unknown: {} emails were left sending by a process that stopped mid-send and are \
             not sent again: {}",
            users.len(),
            users.join(", ")
        );
        outln!("hint: `mailscore delivery retry-unknown --date {date}` puts them back to pending");
    }
    if let Some(reason) = &report.paused {
        outln!("sending is paused: {reason}");
        outln!("hint: `mailscore delivery resume` resumes it once the cause is fixed");
        return Ok(1);
    }
    Ok(if report.failed > 0 { 1 } else { 0 })
}

/// `delivery …`: the state of sending and the operator's commands.
async fn delivery(command: DeliveryCommand, settings: &Settings) -> Result<i32> {
    use crate::service::delivery as service;
    let store = open_store(settings)?;
    let date_of = |text: &str| {
        parse_date(text).with_context(|| format!("--date {text:?}: expected YYYY-MM-DD"))
    };
    match command {
        DeliveryCommand::Status { date } => {
            let date = match date {
                Some(text) => date_of(&text)?,
                None => today(&settings.time_zone),
            };
            let state = service::delivery_state(&store, date).await?;
            match &state.paused {
                Some(pause) => outln!("sending is paused: {}", pause.reason),
                None => outln!("sending is on"),
            }
            outln!(
                "{date}: {} sent of {} ({} pending, {} due), {} failed, {} unknown (left \
                 sending), {} cancelled, {} suppressed; {} failed attempts",
                state.sent,
                state.sent + state.pending + state.sending_unknown + state.failed,
                state.pending,
                state.due,
                state.failed,
                state.sending_unknown,
                state.cancelled,
                state.suppressed,
                state.failed_attempts
            );
        }
        DeliveryCommand::Pause { reason } => {
            service::pause(&store, reason).await?;
            outln!("sending is paused; `mailscore delivery resume` resumes it");
        }
        DeliveryCommand::Resume => {
            if service::resume(&store).await? {
                outln!("sending resumed");
            } else {
                outln!("sending was not paused");
            }
        }
        DeliveryCommand::Cancel { date } => {
            let date = date_of(&date)?;
            let n = service::cancel(&store, date).await?;
            outln!("{date}: {n} pending emails cancelled");
        }
        DeliveryCommand::RetryUnknown { date } => {
            let date = date_of(&date)?;
            let n = service::retry_unknown(&store, date).await?;
            outln!(
                "{date}: {n} emails of unknown outcome put back to pending; `mailscore send --date {date}` sends them"
            );
        }
    }
    Ok(0)
}

/// `bounces import [DIR]`: every DSN file of the folder, one line each, and a summary;
/// exit status 3 when a file was rejected (moved to `rejected/`), as a degraded run.
async fn bounces_import(dir: Option<PathBuf>, settings: &Settings) -> Result<i32> {
    use crate::service::bounces::{DsnFileOutcome, drop_dir, import_dsn_dir};
    let store = open_store(settings)?;
    let dir = dir.unwrap_or_else(|| drop_dir(&settings.data_dir));
    if !dir.is_dir() {
        anyhow::bail!(
            "{} is not a folder\nhint: drop DSN files (*.eml) into {} or name another folder",
            dir.display(),
            drop_dir(&settings.data_dir).display()
        );
    }
    let now = jiff::Timestamp::now().as_microsecond();
    let import = import_dsn_dir(&store, &dir, settings.bounces.soft_rule, now).await?;
    let (mut events, mut suppressed) = (0, 0);
    for file in &import.files {
        match &file.outcome {
            DsnFileOutcome::Imported(report) => {
                events += report.stored.len();
                for bounce in report.suppressed() {
                    suppressed += 1;
                    outln!(
                        "{}: {} {} suppressed",
                        file.name,
                        bounce.event.kind.as_str(),
                        bounce.event.address.as_str()
                    );
                }
                let quiet = report.stored.iter().filter(|b| b.suppressed.is_none());
                for bounce in quiet {
                    outln!(
                        "{}: {} {} recorded",
                        file.name,
                        bounce.event.kind.as_str(),
                        bounce.event.address.as_str()
                    );
                }
                if report.duplicates > 0 {
                    outln!("{}: {} already imported", file.name, report.duplicates);
                }
            }
            DsnFileOutcome::Rejected(error) => {
                outln!(
                    "{}: rejected, moved to rejected/: {error}\n  hint: {}",
                    file.name,
                    error.hint
                );
            }
        }
    }
    let rejected = import.rejected();
    outln!(
        "{} files in {}: {} imported ({events} events, {suppressed} addresses suppressed), {rejected} rejected",
        import.files.len(),
        dir.display(),
        import.files.len() - rejected
    );
    Ok(if rejected > 0 { 3 } else { 0 })
}

/// `config check`: the settings as TOML, once the schedule parses and the DKIM key (when
/// one is set) loads; then the DNS record of that key, as comments.
fn config_check(settings: &Settings) -> Result<i32> {
    crate::schedule::Schedule::parse(&settings.schedule)?;
    let signer = match settings.dkim.as_ref().map(|dkim| dkim.signer()).transpose() {
        Ok(signer) => signer,
        Err(error) => {
            errln!("error: setting dkim.key_file: {error}");
            return Ok(2);
        }
    };
    out!("{}", settings.to_toml());
    if let Some(signer) = signer {
        let (name, value) = signer.dns_record();
        outln!();
        outln!(
            "# The DKIM key ({}) loads. Publish this DNS TXT record for it:",
            signer.algorithm().key_type()
        );
        outln!("#   name:  {name}");
        outln!("#   value: {value}");
    }
    Ok(0)
}

/// `dkim keygen`: the domain, selector and file from the arguments, else the settings.
fn dkim_keygen(args: KeygenArgs, settings: &Settings) -> Result<i32> {
    let configured = settings.dkim.as_ref();
    let needed = |what: &str, flag: &str, key: &str| {
        anyhow::anyhow!(
            "dkim keygen needs {what}: give {flag}, or set {key} in the settings \
             (see mailscore.example.toml)"
        )
    };
    let domain = args
        .domain
        .or_else(|| configured.map(|dkim| dkim.domain.clone()))
        .ok_or_else(|| needed("the signing domain", "--domain", "dkim.domain"))?;
    let selector = args
        .selector
        .or_else(|| configured.map(|dkim| dkim.selector.clone()))
        .ok_or_else(|| needed("a selector", "--selector", "dkim.selector"))?;
    let out = args
        .out
        .or_else(|| configured.map(|dkim| dkim.key_file.clone()))
        .ok_or_else(|| needed("the file to write", "--out", "dkim.key_file"))?;
    let key = dkim_service::keygen(args.algorithm, &out, &domain, &selector)?;
    outln!(
        "wrote a new {} DKIM key to {} (readable by its owner only)",
        key.algorithm.key_type(),
        key.path.display()
    );
    outln!();
    outln!("Publish this DNS TXT record:");
    outln!("  name:  {}", key.record_name);
    outln!("  value: {}", key.record_value);
    outln!();
    outln!("In a zone file:");
    outln!(
        "  {}",
        dkim_service::zone_file_line(&key.record_name, &key.record_value)
    );
    if configured.is_none_or(|dkim| dkim.key_file != key.path) {
        outln!();
        outln!(
            "Then sign with it: dkim.domain = {domain:?}, dkim.selector = {selector:?}, \
             dkim.key_file = {:?} (or MAILSCORE_DKIM_DOMAIN, MAILSCORE_DKIM_SELECTOR, \
             MAILSCORE_DKIM_KEY_FILE).",
            key.path.display().to_string()
        );
    }
    Ok(0)
}

/// Where a command that reads or changes the store does its work: on the store this
/// process opened, or through the server that holds it.
enum Target<'a> {
    Store(RedbStore),
    Server(&'a ApiClient),
}

impl<'a> Target<'a> {
    /// The server when there is one, else the data directory's store ([`open_store`]).
    fn open(settings: &Settings, server: Option<&'a ApiClient>) -> Result<Self> {
        Ok(match server {
            Some(client) => Target::Server(client),
            None => Target::Store(open_store(settings)?),
        })
    }
}

fn progress_bars() -> Option<ProgressFactory> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let factory: ProgressFactory = Arc::new(|path: &Path, size: u64| {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_message(
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
        Box::new(move |read: u64| {
            bar.set_position(read);
            if read >= size {
                bar.finish_and_clear();
            }
        })
    });
    Some(factory)
}

/// `import`, here or through `server`; `max_shrink_flag` is `--max-shrink-percent` (or
/// its variable) when given, which a server is sent in place of its own setting.
async fn import(
    args: ImportArgs,
    max_shrink_flag: Option<u32>,
    settings: &Settings,
    server: Option<&ApiClient>,
) -> Result<i32> {
    let target = match server {
        Some(client) => Target::Server(client),
        None => Target::Store(create_store(settings)?),
    };
    let mut options = ImportOptions::new(settings.time_zone.clone());
    options.encoding = settings.import_encoding;
    options.progress = if args.json { None } else { progress_bars() };
    let groups = import_service::plan_imports(args.kind, &args.files)?;
    options.max_shrink_percent = (!args.allow_shrink).then_some(settings.import_max_shrink_percent);
    let mut reports = Vec::new();
    let mut failed = 0;
    for group in &groups {
        // The report, why the group was rejected, and the time it took.
        let (report, error, elapsed) = match &target {
            Target::Store(store) => {
                let outcome = import_service::import_group(store, group, &options).await;
                (
                    outcome.report,
                    outcome.error.map(|error| error.to_string()),
                    outcome.elapsed,
                )
            }
            Target::Server(client) => {
                let upload = Upload {
                    kind: group.kind,
                    files: &group.files,
                    encoding: args.encoding,
                    max_shrink_percent: max_shrink_flag,
                    allow_shrink: args.allow_shrink,
                };
                let outcome = client.upload_import(&upload, options.progress.as_ref())?;
                (outcome.report, outcome.error, outcome.elapsed)
            }
        };
        match &error {
            None => {
                if !args.json {
                    print_report_summary(&report)?;
                    outln!("  committed in {:.2} s in all", elapsed.as_secs_f64());
                }
            }
            Some(error) => {
                failed += 1;
                errln!("error: {error}");
            }
        }
        reports.push(report);
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

fn print_report_summary(report: &ImportReport) -> std::io::Result<()> {
    let rate = if report.duration_ms > 0 {
        report.rows_read as f64 * 1000.0 / report.duration_ms as f64
    } else {
        0.0
    };
    outln!(
        "{} {}: read {} rows, imported {}, skipped {}, warnings {}; checked in {:.2} s ({:.0} rows/s, {}) [report #{}]",
        report.kind,
        report.file,
        report.rows_read,
        report.rows_imported,
        report.rows_skipped,
        report.warnings,
        report.duration_ms as f64 / 1000.0,
        rate,
        report.encoding,
        report.id
    );
    for (name, count) in &report.counts {
        if *count > 0 {
            outln!("  {name}: {count}");
        }
    }
    const SHOWN: usize = 10;
    for issue in report.issues.iter().take(SHOWN) {
        print_issue(&report.file, issue)?;
    }
    let hidden = report.issues.len().saturating_sub(SHOWN) as u64 + report.issues_omitted;
    if hidden > 0 {
        outln!(
            "  … {hidden} more; see `mailscore imports show {}`",
            report.id
        );
    }
    Ok(())
}

/// One issue of a report about `file` (an issue of a report over several files names its own).
fn print_issue(file: &str, issue: &crate::domain::RowIssue) -> std::io::Result<()> {
    let file = issue.file.as_deref().unwrap_or(file);
    let severity = match issue.severity {
        Severity::Error => "skipped",
        Severity::Warning => "warning",
    };
    outln!(
        "  {severity}: {file}:{} column {}{}: {}",
        issue.line,
        issue.column.as_deref().unwrap_or("-"),
        issue
            .value
            .as_deref()
            .map_or(String::new(), |v| format!(" value {v:?}")),
        issue.message
    );
    Ok(())
}

fn generate_dataset(args: GenerateArgs, settings: &Settings) -> Result<i32> {
    let end_date = match &args.end_date {
        Some(text) => {
            parse_date(text).with_context(|| format!("--end-date {text:?}: expected YYYY-MM-DD"))?
        }
        None => today(&settings.time_zone),
    };
    let options = args.size.options(end_date, args.dirty);
    let started = Instant::now();
    let summary = generate(&options, &args.out)
        .with_context(|| format!("writing the dataset to {}", args.out.display()))?;
    outln!(
        "wrote {} jobs, {} users, {} actions ({:.1} MB) to {} in {:.2} s",
        summary.jobs_rows,
        summary.users_rows,
        summary.actions_rows,
        summary.bytes_written as f64 / 1e6,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

async fn imports(
    command: ImportsCommand,
    settings: &Settings,
    server: Option<&ApiClient>,
) -> Result<i32> {
    let target = Target::open(settings, server)?;
    match command {
        ImportsCommand::List { limit } => {
            let list = match &target {
                Target::Server(client) => client.list_imports(limit)?,
                Target::Store(store) => import_service::list_imports(store, limit).await?,
            };
            for summary in list {
                outln!(
                    "#{:<5} {} {:<16} read {:>9} imported {:>9} skipped {:>6} warnings {:>6}  {}",
                    summary.id,
                    settings.time_zone.format(summary.started_at),
                    summary.kind,
                    summary.rows_read,
                    summary.rows_imported,
                    summary.rows_skipped,
                    summary.warnings,
                    summary.file
                );
            }
        }
        ImportsCommand::Show { id, json } => {
            let report = match &target {
                Target::Server(client) => client.show_import(id)?,
                Target::Store(store) => import_service::show_import(store, id).await?,
            };
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report_summary(&report)?;
                for issue in report.issues.iter().skip(10) {
                    print_issue(&report.file, issue)?;
                }
            }
        }
    }
    Ok(0)
}

async fn jobs(
    command: JobsCommand,
    settings: &Settings,
    server: Option<&ApiClient>,
) -> Result<i32> {
    let target = Target::open(settings, server)?;
    match command {
        JobsCommand::Show { job_id } => {
            let job_id = parse_job_id(&job_id)?;
            let record = match &target {
                Target::Server(client) => client.show_job(job_id)?,
                Target::Store(store) => job_service::show_job(store, job_id).await?,
            };
            outln!("{}", serde_json::to_string_pretty(&record)?);
        }
    }
    Ok(0)
}

async fn suppressions(
    command: SuppressionsCommand,
    settings: &Settings,
    server: Option<&ApiClient>,
) -> Result<i32> {
    let target = Target::open(settings, server)?;
    match command {
        SuppressionsCommand::List => {
            let list = match &target {
                Target::Server(client) => client.list_suppressions()?,
                Target::Store(store) => suppression_service::list_suppressions(store).await?,
            };
            outln!("address,reason,created_at,note");
            for entry in &list {
                let at = jiff::Timestamp::from_microsecond(entry.created_at)
                    .map_or_else(|_| entry.created_at.to_string(), |t| t.to_string());
                outln!(
                    "{},{},{at},{}",
                    entry.address.as_str(),
                    entry.reason.as_str(),
                    entry
                        .note
                        .as_deref()
                        .unwrap_or("")
                        .replace([',', '\n'], " ")
                );
            }
        }
        SuppressionsCommand::Add {
            address,
            reason,
            note,
        } => {
            let address = parse_address(&address)?;
            let marked = match &target {
                Target::Server(client) => client.suppress(&address, reason, note.as_deref())?,
                Target::Store(store) => {
                    suppression_service::suppress_address(
                        store,
                        address.clone(),
                        reason,
                        note,
                        jiff::Timestamp::now().as_microsecond(),
                    )
                    .await?
                }
            };
            outln!(
                "{} suppressed ({}); {marked} queued emails marked suppressed",
                address.as_str(),
                reason.as_str()
            );
        }
        SuppressionsCommand::Remove { address } => {
            let address = parse_address(&address)?;
            match &target {
                Target::Server(client) => client.unsuppress(&address)?,
                Target::Store(store) => {
                    suppression_service::unsuppress_address(store, &address).await?
                }
            }
            outln!("{} is no longer suppressed", address.as_str());
        }
    }
    Ok(0)
}

async fn status(settings: &Settings, server: Option<&ApiClient>) -> Result<i32> {
    // The database: the data directory's file, also when the server that holds it answers;
    // a server that `--server` names is named by its URL.
    let (database, status) = match Target::open(settings, server)? {
        Target::Server(client) => {
            let database = match client.server().pid {
                Some(_) => settings
                    .data_dir
                    .join(crate::store::redb::DATABASE_FILE)
                    .display()
                    .to_string(),
                None => format!("the database of {}", client.server().url),
            };
            (database, client.status()?)
        }
        Target::Store(store) => {
            let status = status_service::store_status(&store).await?;
            (store.path().display().to_string(), status.counts())
        }
    };
    let space = status.space;
    let masters = &status.masters;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    outln!(
        "database: {} ({:.1} MB on disk: {:.1} MB data, {:.1} MB metadata, {:.1} MB unused)",
        database,
        mb(space.file_bytes),
        mb(space.stored_bytes),
        mb(space.metadata_bytes),
        mb(space.fragmented_bytes)
    );
    outln!(
        "jobs: {} active, {} known",
        status.jobs.active,
        status.jobs.total
    );
    outln!("users: {}", status.users);
    outln!("actions: {}", status.actions);
    outln!(
        "masters: {} prefectures, {} cities, {} adjacency pairs, {} occupations, {} employment types, {} salary types, {} features, {} keywords",
        masters.prefectures,
        masters.cities,
        masters.adjacency,
        masters.occupations,
        masters.employment_types,
        masters.salary_types,
        masters.features,
        masters.keywords
    );
    print_unknown_codes(&status.unknown_codes)?;
    Ok(0)
}

/// The current jobs' codes that no master names, in the order given (most used first).
fn print_unknown_codes(unknown: &[crate::ingest::UnknownCodeUse]) -> std::io::Result<()> {
    const SHOWN: usize = 20;
    if unknown.is_empty() {
        outln!("unknown codes: none (the masters name every code of the current jobs)");
        return Ok(());
    }
    outln!(
        "unknown codes in use: {} (kept and matched; they have no name until a master names them)",
        unknown.len()
    );
    for code in unknown.iter().take(SHOWN) {
        outln!(
            "  {} {}: {} jobs",
            code.column.as_str(),
            code.code,
            code.jobs
        );
    }
    if unknown.len() > SHOWN {
        outln!("  … and {} more", unknown.len() - SHOWN);
    }
    Ok(())
}

/// The exit status of `batch run` when the run succeeded with warnings (an inbox file was
/// refused, some users fell back to yesterday's picks): not 0, so that cron and monitoring
/// notice, and not 1, which means the run failed.
pub const EXIT_SUCCEEDED_WITH_WARNINGS: i32 = 3;

fn run_exit_status(run: &crate::domain::batch::RunRecord) -> i32 {
    use crate::domain::batch::RunStatus;
    match run.status {
        RunStatus::SucceededWithWarnings => EXIT_SUCCEEDED_WITH_WARNINGS,
        // Cancelled (a server's run, followed from here): the date is not done.
        RunStatus::Cancelled | RunStatus::Failed => 1,
        RunStatus::Succeeded | RunStatus::Running => 0,
    }
}

/// What degraded a run, on stderr where cron mails it.
fn print_run_warnings(run: &crate::domain::batch::RunRecord) {
    for warning in &run.warnings {
        errln!("warning: {warning}");
    }
    if let (crate::domain::batch::RunStatus::Cancelled, Some(error)) = (run.status, &run.error) {
        errln!("{error}");
    }
}

/// One line per phase of a run: name, time, counts, then its errors.
fn print_phases(run: &crate::domain::batch::RunRecord) -> std::io::Result<()> {
    for phase in &run.phases {
        let counts: Vec<String> = phase
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        outln!(
            "  {:<9} {:>7.3} s  {}",
            phase.name,
            phase.duration_ms as f64 / 1000.0,
            counts.join(", ")
        );
        for error in &phase.errors {
            outln!("    error: {error}");
        }
    }
    Ok(())
}

/// The bar a `batch run` shows on a terminal: the phase going on, and its done / total.
fn run_progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:9} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar
}

async fn batch(
    command: BatchCommand,
    settings: &Settings,
    server: Option<&ApiClient>,
) -> Result<i32> {
    let target = Target::open(settings, server)?;
    match command {
        BatchCommand::Run {
            date,
            until,
            chunk_users,
        } => {
            let date = match date {
                Some(text) => parse_date_arg(&text)?,
                None => today(&settings.time_zone),
            };
            let started = Instant::now();
            let run = match &target {
                Target::Store(store) => run_here(store, settings, date, until, chunk_users).await?,
                Target::Server(client) => {
                    let start = StartRun {
                        date,
                        until,
                        chunk_users,
                    };
                    run_in_server(client, &start).await?
                }
            };
            outln!(
                "run #{} for {}: {} in {:.2} s",
                run.id,
                run.date,
                run.status.as_str(),
                started.elapsed().as_secs_f64()
            );
            print_phases(&run)?;
            if !run.skipped_keywords.is_empty() {
                outln!(
                    "  SEO keywords skipped (match more than half of the eligible jobs): {}",
                    run.skipped_keywords.join(", ")
                );
            }
            print_run_warnings(&run);
            return Ok(run_exit_status(&run));
        }
        BatchCommand::List { limit } => {
            let list = match &target {
                Target::Server(client) => client.list_runs(limit)?,
                Target::Store(store) => runs::list_runs(store, limit).await?,
            };
            for run in list {
                let total: u64 = run.phases.iter().map(|p| p.duration_ms).sum();
                outln!(
                    "#{:<5} {} {} until {} started {} ({:.2} s)",
                    run.id,
                    run.date,
                    run.status.as_str(),
                    run.until,
                    settings.time_zone.format(run.started_at),
                    total as f64 / 1000.0
                );
                if let Some(error) = &run.error {
                    outln!("       {error}");
                }
                for warning in &run.warnings {
                    outln!("       warning: {warning}");
                }
            }
        }
    }
    Ok(0)
}

/// `batch run` in this process, with a progress bar on a terminal.
async fn run_here(
    store: &RedbStore,
    settings: &Settings,
    date: jiff::civil::Date,
    until: Phase,
    chunk_users: u32,
) -> Result<crate::domain::batch::RunRecord> {
    let signer = crate::tokens::TokenSigner::new(&settings.create_secret_key_bytes()?);
    let options = BatchOptions {
        until,
        chunk_users: chunk_users as usize,
        trigger: Some(crate::pipeline::RunTrigger::Cli),
        ..runs::batch_options(settings, date, signer)
    };
    let watcher = std::io::stderr().is_terminal().then(|| {
        let progress = std::sync::Arc::clone(&options.progress);
        tokio::spawn(async move {
            let bar = run_progress_bar();
            loop {
                let (phase, done, total) = progress.snapshot();
                bar.set_message(phase);
                bar.set_length(total);
                bar.set_position(done);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    });
    let outcome = runs::run_date(store, &options).await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    Ok(outcome?)
}

/// `batch run` in the server that holds the store: started there for the command line,
/// followed through its event stream (a progress bar on a terminal) to its record. Ctrl-C
/// cancels the server's run, which stops at its next boundary and is shown as it ended; a
/// second Ctrl-C leaves at once (exit status 130), the run still stopping.
async fn run_in_server(
    client: &ApiClient,
    start: &StartRun,
) -> Result<crate::domain::batch::RunRecord> {
    // Listening before the run starts: an interrupt from then on cancels it.
    let mut interrupts = Interrupts::listen()?;
    let run_id = client.start_run(start)?;
    let canceller = {
        let client = client.clone();
        tokio::spawn(async move {
            interrupts.next().await;
            errln!(
                "interrupted: run #{run_id} in {} is asked to stop at its next phase or chunk \
                 boundary (Ctrl-C again leaves at once)",
                client.server()
            );
            let cancelled = tokio::task::spawn_blocking(move || client.cancel_run(run_id)).await;
            if let Ok(Err(error)) = cancelled {
                errln!("warning: {error}");
            }
            interrupts.next().await;
            errln!("left run #{run_id}; it goes on stopping in the server");
            std::process::exit(130);
        })
    };
    let bar = std::io::stderr().is_terminal().then(run_progress_bar);
    let run = client.follow_run(run_id, &mut |sample| {
        if let Some(bar) = &bar {
            bar.set_message(sample.phase.clone());
            bar.set_length(sample.total);
            bar.set_position(sample.done);
        }
    });
    canceller.abort();
    drop(bar);
    Ok(run?)
}

/// SIGINT (Ctrl-C) as a stream, listened to from its creation on.
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn listen() -> std::io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Where an export goes: the file at `path` (its directory created), or standard output
/// for `-`.
fn create_output(path: &Path) -> Result<std::io::BufWriter<Box<dyn std::io::Write>>> {
    if path == Path::new("-") {
        return Ok(std::io::BufWriter::with_capacity(
            1 << 20,
            Box::new(std::io::stdout()),
        ));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, Box::new(file)))
}

/// Says what an export wrote: on standard error when the export itself went to standard
/// output, so that a pipe gets the data alone.
fn report_written(out: &Path, message: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    if out == Path::new("-") {
        errln!("{message}");
    } else {
        outln!("{message}");
    }
    Ok(())
}

async fn export_picks(
    settings: &Settings,
    date: &str,
    user: Option<&str>,
    format: ExportFormat,
    out: &Path,
) -> Result<i32> {
    let store = open_store(settings)?;
    let date = parse_date_arg(date)?;
    let user = user.map(parse_user_arg).transpose()?;
    let export = exports::load_picks(&store, date, user.as_ref()).await?;
    let mut output = create_output(out)?;
    let rows = export.write(format.into(), &mut output)?;
    report_written(
        out,
        format_args!(
            "wrote {rows} picks of {} users to {}",
            export.users.len(),
            out.display()
        ),
    )?;
    Ok(0)
}

async fn export_scores(settings: &Settings, date: &str, out: &Path) -> Result<i32> {
    let store = open_store(settings)?;
    let date = parse_date_arg(date)?;
    let export = exports::load_scores(&store, date).await?;
    let mut output = create_output(out)?;
    let jobs = export.write(&mut output)?;
    report_written(
        out,
        format_args!("wrote the scores of {jobs} jobs to {}", out.display()),
    )?;
    Ok(0)
}

async fn emails(command: EmailsCommand, settings: &Settings) -> Result<i32> {
    let store = open_store(settings)?;
    let messages = Messages::load(settings)?;
    for error in &messages.renderer.load_errors {
        errln!("warning: {error}");
    }
    match command {
        EmailsCommand::Preview { user, date, out } => {
            let date = parse_date_arg(&date)?;
            let user = parse_user_arg(&user)?;
            let preview = email_service::preview_email(&store, &messages, date, &user).await?;
            let mut output = create_output(&out)?;
            std::io::Write::write_all(&mut output, &preview.message)?;
            std::io::Write::flush(&mut output)?;
            report_written(
                &out,
                format_args!(
                    "wrote {} ({} bytes, status {}, subject {:?})",
                    out.display(),
                    preview.message.len(),
                    preview.status.as_str(),
                    preview.subject
                ),
            )?;
        }
        EmailsCommand::Export { date, out } => {
            let date = parse_date_arg(&date)?;
            let export = email_service::load_emails(&store, date).await?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let index_path = out.join("index.csv");
            let mut index = std::fs::File::create(&index_path)?;
            let n_emails = export.write(&messages, &mut index, &mut |file, bytes| {
                std::fs::write(out.join(file), bytes)
            })?;
            outln!("wrote {n_emails} emails of {date} to {}", out.display());
        }
    }
    Ok(0)
}

async fn demo(args: DemoArgs, settings: &Settings, logging: &Logging) -> Result<i32> {
    let started = Instant::now();
    let dataset = demo_service::dataset_dir(settings);
    let date = today(&settings.time_zone);
    if demo_service::needs_dataset(&dataset) {
        outln!(
            "generating the demo dataset ({} jobs, {} users, {} days of actions) into {} …",
            args.size.jobs,
            args.size.users,
            args.size.days,
            dataset.display()
        );
        demo_service::generate_dataset(&args.size.options(date, false), &dataset)?;
    }
    let store = create_store(settings)?;
    let mut options = ImportOptions::new(settings.time_zone.clone());
    options.progress = progress_bars();
    let plan = demo_service::plan_demo_imports(&store, &dataset).await?;
    if !plan.fresh {
        outln!("the store already holds jobs; importing only today's feed");
    }
    // Users the importer skipped for their address, when this demo imported the users.
    let mut invalid_addresses = None;
    for (kind, file) in &plan.files {
        let report = import_file(&store, *kind, file, &options).await?;
        print_report_summary(&report)?;
        if *kind == ImportKind::Users {
            invalid_addresses = Some(demo_service::invalid_addresses(&report));
        }
    }
    let signer = crate::tokens::TokenSigner::new(&settings.secret_key_bytes()?);
    let batch_options = runs::batch_options(settings, date, signer.clone());
    let run = runs::run_date(&store, &batch_options).await?;
    outln!(
        "\ndaily run #{} for {}: {}",
        run.id,
        run.date,
        run.status.as_str()
    );
    print_phases(&run)?;
    print_run_warnings(&run);
    let emails = store.emails(date, None).await?;
    print_recipients(&demo_service::recipients(
        &run,
        emails.len() as u64,
        invalid_addresses,
    ))?;
    let mailscore = invoked_command(settings);
    if let Some(sample) = emails.first() {
        let messages = Messages::with_signer(settings, signer);
        let path = settings.data_dir.join("sample.eml");
        std::fs::write(&path, messages.stored_message(sample)?)?;
        outln!(
            "\n{} emails queued for {date}; a sample ({}): {}",
            emails.len(),
            sample.subject,
            path.display()
        );
        outln!(
            "  more: {mailscore} emails preview --user {} --date {date} --out mail.eml",
            sample.user_id
        );
        outln!("  picks: {mailscore} picks export --date {date} --out picks.csv");
        outln!("  why a user got none: {mailscore} emails preview --user ID --date {date} --out -");
    }
    outln!(
        "demo ready in {:.1} s (the admin UI arrives with a later release)",
        started.elapsed().as_secs_f64()
    );
    if args.no_serve {
        outln!("  serve it: {mailscore} serve");
        return Ok(0);
    }
    let admin = demo_service::demo_admin(settings)?;
    let mut options = crate::api::ServeOptions::from_settings(settings)?;
    options.first_admin = Some(admin.clone());
    options.logs = logging.ring();
    let store: Arc<dyn Store> = Arc::new(store);
    crate::api::serve(store, &options, |addr| {
        // Said once the socket accepts connections; a closed stdout must not stop the server.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stdout().lock(),
            format_args!(
                "serving the demo on http://{addr} (API explorer: http://{addr}/api/docs); sign in as {} with the password {} (kept in {}); stop with Ctrl-C\n",
                admin.email,
                admin.password,
                settings.data_dir.join(demo_service::DEMO_ADMIN_FILE).display()
            ),
        );
    })
    .await?;
    Ok(0)
}

/// Who of the stored users got an email from a run and why the others did not.
fn print_recipients(recipients: &demo_service::Recipients) -> std::io::Result<()> {
    outln!(
        "\n{} users stored: {} got an email, {} did not",
        recipients.users,
        recipients.emails,
        recipients.without_email
    );
    for (reason, n) in &recipients.reasons {
        if *n > 0 {
            outln!("  {reason}: {n}");
        }
    }
    if recipients.unexplained > 0 {
        outln!(
            "  other (matching or rendering failed: see the phases above): {}",
            recipients.unexplained
        );
    }
    if let Some(n) = recipients.invalid_addresses.filter(|&n| n > 0) {
        outln!("  and {n} rows of the users file were skipped for an invalid address (not stored)");
    }
    Ok(())
}

/// The command line that runs this same binary on the same data directory, for the hints
/// a command prints: `mailscore` when it was found on the `PATH`, else its path (relative
/// to the current directory when under it, as `target/release/mailscore`), with
/// `--data-dir` when that is not the default.
fn invoked_command(settings: &Settings) -> String {
    let arg0 = std::env::args_os().next().unwrap_or_default();
    let from_path = !arg0.is_empty() && !Path::new(&arg0).to_string_lossy().contains('/');
    let binary = match (from_path, std::env::current_exe(), std::env::current_dir()) {
        (true, _, _) => Path::new(&arg0).to_string_lossy().into_owned(),
        (false, Ok(exe), Ok(cwd)) => match exe.strip_prefix(&cwd) {
            // A bare name would be looked up on the PATH: "./mailscore" runs this one.
            Ok(relative) if relative.components().count() == 1 => {
                format!("./{}", relative.display())
            }
            Ok(relative) => relative.display().to_string(),
            Err(_) => exe.display().to_string(),
        },
        (false, Ok(exe), Err(_)) => exe.display().to_string(),
        (false, Err(_), _) => "mailscore".to_owned(),
    };
    if settings.data_dir == Path::new(crate::config::DEFAULT_DATA_DIR) {
        binary
    } else {
        format!("{binary} --data-dir {}", settings.data_dir.display())
    }
}

async fn serve(settings: &Settings, logging: &Logging) -> Result<i32> {
    settings.check_first_admin()?;
    let store: Arc<dyn Store> = Arc::new(open_store(settings)?);
    // Only once the store is open, so that a data directory without a store gets no
    // `logs/`; held until the server has stopped, when dropping it flushes the files.
    let _file_log = settings
        .log_dir
        .as_deref()
        .map(|dir| logging.write_files(dir, settings.log_retention_days))
        .transpose()?;
    let mut options = crate::api::ServeOptions::from_settings(settings)?;
    options.logs = logging.ring();
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    crate::api::serve(store, &options, |addr| {
        // Said once the socket accepts connections, for the person who started the server,
        // on standard error: standard output carries the log lines. A closed stderr must
        // not stop the server.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr().lock(),
            format_args!(
                "serving on {scheme}://{addr} (API explorer: {scheme}://{addr}/api/docs); stop with Ctrl-C or SIGTERM\n"
            ),
        );
    })
    .await?;
    Ok(0)
}

async fn scheduler(print: Option<usize>, settings: &Settings) -> Result<i32> {
    let schedule = crate::schedule::Schedule::parse(&settings.schedule)?;
    let zone = settings.time_zone.zone().clone();
    if let Some(n) = print {
        for next in runs::next_runs(&schedule, &zone, jiff::Timestamp::now(), n) {
            outln!(
                "{}",
                next.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M %Z")
            );
        }
        return Ok(0);
    }
    // A data directory without a store is refused now, not at the first run hours later;
    // the store is opened again for each run so that the commands in between can use it.
    drop(open_store(settings)?);
    let signer = crate::tokens::TokenSigner::new(&settings.create_secret_key_bytes()?);
    runs::run_scheduler(&schedule, settings, signer, || {
        Ok(Arc::new(open_store(settings)?) as Arc<dyn Store>)
    })
    .await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_shows_the_defaults_the_settings_use() {
        let command = <Cli as clap::CommandFactory>::command();
        let help = |id: &str| {
            command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        let cache = format!("[default: {}]", crate::config::DEFAULT_STORAGE_CACHE_MB);
        assert!(help("storage_cache_mb").contains(&cache));
        let dir = format!("[default: {}]", crate::config::DEFAULT_DATA_DIR);
        assert!(help("data_dir").contains(&dir));
    }

    #[test]
    fn every_spelling_of_an_encoding_parses_to_its_choice() {
        let table = [
            ("auto", EncodingChoice::Auto),
            ("utf-8", EncodingChoice::Utf8),
            ("utf8", EncodingChoice::Utf8),
            ("shift_jis", EncodingChoice::ShiftJis),
            ("sjis", EncodingChoice::ShiftJis),
            ("cp932", EncodingChoice::ShiftJis),
            ("shift-jis", EncodingChoice::ShiftJis),
        ];
        for (spelling, expected) in table {
            let cli = Cli::try_parse_from([
                "mailscore",
                "import",
                "jobs",
                "f.csv",
                "--encoding",
                spelling,
            ])
            .unwrap_or_else(|e| panic!("--encoding {spelling}: {e}"));
            let Command::Import(args) = cli.command else {
                panic!("not an import");
            };
            assert_eq!(args.encoding, Some(expected), "--encoding {spelling}");
        }
        assert!(
            Cli::try_parse_from(["mailscore", "import", "jobs", "f.csv", "--encoding", "UTF8"])
                .is_err()
        );
    }

    #[test]
    fn the_command_line_spells_values_as_before() {
        let cli = Cli::try_parse_from([
            "mailscore",
            "suppressions",
            "add",
            "a@example.com",
            "--reason",
            "hard-bounce",
        ])
        .unwrap();
        let Command::Suppressions {
            command: SuppressionsCommand::Add { reason, .. },
        } = cli.command
        else {
            panic!("not suppressions add");
        };
        assert_eq!(reason, SuppressionReason::HardBounce);
        let cli =
            Cli::try_parse_from(["mailscore", "--log-format", "json", "batch", "run"]).unwrap();
        assert_eq!(cli.global.log_format, Some(LogFormat::Json));
        let Command::Batch {
            command: BatchCommand::Run { until, .. },
        } = cli.command
        else {
            panic!("not batch run");
        };
        assert_eq!(until, Phase::Render, "the default phase");
        let cli =
            Cli::try_parse_from(["mailscore", "import", "employment-types", "f.csv"]).unwrap();
        let Command::Import(args) = cli.command else {
            panic!("not an import");
        };
        assert_eq!(args.kind, ImportKind::EmploymentTypes);
    }
}
