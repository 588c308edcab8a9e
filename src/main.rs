//! The `mailscore` binary: parses the command line, starts logging, runs the command.

use std::process::ExitCode;

use clap::Parser;
use mailscore::cli::{self, Cli};
use mailscore::config::Settings;
use mailscore::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.overrides()) {
        Ok(settings) => settings,
        Err(error) => {
            print_error(format_args!("error: {error}"));
            return ExitCode::from(2);
        }
    };
    let serving = cli.is_serve();
    let console = if serving {
        telemetry::Console::Stdout
    } else {
        telemetry::Console::Stderr
    };
    let logging = telemetry::init(
        settings.log_format_for(serving),
        &settings.log_level,
        console,
    );
    if cli.serves_requests() {
        let lowered =
            mailscore::threads::batch_nice().and_then(mailscore::threads::lower_batch_priority);
        if let Err(error) = lowered {
            print_error(format_args!("error: {error}"));
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            print_error(format_args!(
                "error: cannot start the async runtime: {error}"
            ));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli, settings, &logging)) {
        Ok(code) => ExitCode::from(code as u8),
        // The reader of an export on standard output stopped reading (`| head`): not a fault.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            print_error(format_args!("error: {error:#}"));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let broken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<mailscore::service::ServiceError>()
            .is_some_and(mailscore::service::ServiceError::is_broken_pipe)
            || cause.downcast_ref::<std::io::Error>().is_some_and(broken)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if broken(io)))
    })
}

/// Writes the error on standard error; never panics when that is a closed pipe.
fn print_error(message: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}
