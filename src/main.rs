//! The `wiredesk` binary: parse the command line, load settings, hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wiredesk::settings::Settings;

#[derive(Parser)]
#[command(name = "wiredesk", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("WIREDESK_GIT_REVISION"), ")"), about = "Streaming news enrichment: entities, tags and wire-story dedupe for Kafka.")]
struct Cli {
    /// Configuration file (TOML). Also `WIREDESK_CONFIG`. Environment variables
    /// `WIREDESK__SECTION__KEY` override it.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Kafka worker until SIGTERM/SIGINT.
    Run,
    /// Enrich JSON-lines files (or stdin) to stdout, without Kafka.
    Enrich {
        /// Input files, one JSON article per line; `-` or none for stdin.
        files: Vec<PathBuf>,
        /// Write rejected lines here as JSON lines instead of to stderr.
        #[arg(long)]
        dead_letter: Option<PathBuf>,
        /// Write duplicates here under `dedupe.action = "route"` (run routes them to
        /// topics.duplicates).
        #[arg(long)]
        duplicates: Option<PathBuf>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Load, validate and print the effective configuration (secrets redacted).
    CheckConfig,
    /// Print the JSON Schemas of the input article and the output record.
    Schema {
        /// Which schema: input, output or both.
        #[arg(value_parser = ["input", "output", "both"], default_value = "both")]
        which: String,
    },
    /// Ask the running worker's /healthz (live) or /readyz (ready) on `http.listen`; exit 0 when
    /// it answers 200, else 1 with the reason. For container health checks (no curl in the image).
    Probe {
        #[arg(value_parser = ["live", "ready"], default_value = "live")]
        which: String,
        /// Give up after this long.
        #[arg(long, default_value_t = 3000)]
        timeout_ms: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("wiredesk: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Schema { which } => {
            let schema = match which.as_str() {
                "input" => wiredesk::schema::input(),
                "output" => wiredesk::schema::output(),
                _ => wiredesk::schema::both(),
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe { which, timeout_ms } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let probe = match which.as_str() {
                "ready" => wiredesk::probe::Probe::Ready,
                _ => wiredesk::probe::Probe::Live,
            };
            let addr = wiredesk::probe::target(&settings.http.listen)?;
            let timeout = std::time::Duration::from_millis(timeout_ms);
            let body = wiredesk::probe::check(addr, probe, timeout)?;
            println!("{body}");
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => {
            let settings = Settings::load(cli.config.as_deref())?;
            print!("{}", settings.to_redacted_toml()?);
            eprintln!("wiredesk: configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Enrich {
            files,
            dead_letter,
            duplicates,
            quiet,
        } => {
            let settings = Settings::load(cli.config.as_deref())?;
            wiredesk::telemetry::init(&settings.log);
            let runtime = runtime()?;
            let result = runtime.block_on(wiredesk::enrich::run(
                &settings,
                wiredesk::enrich::Options {
                    files,
                    dead_letter,
                    duplicates,
                    quiet,
                },
            ));
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let settings = Settings::load(cli.config.as_deref())?;
            wiredesk::telemetry::init(&settings.log);
            let runtime = runtime()?;
            let result =
                runtime.block_on(wiredesk::app::run(settings, wiredesk::shutdown::signal()));
            // Do not wait for a stage still running on a blocking thread: the worker has already
            // committed what it acknowledged, so exiting now loses nothing.
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
            if let Err(error) = &result {
                tracing::error!(
                    message = "Worker stopped on a fatal error.",
                    error = format!("{error:#}")
                );
            }
            result?;
            tracing::info!(message = "Stopped.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How long exiting waits for tasks still running (a stage on a blocking thread).
const RUNTIME_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(3);

/// The async runtime. CPU-bound stage work runs on tokio's blocking pool, bounded by the worker's
/// own semaphore (`processing.worker_threads`, 0 = CPUs), not by the pool's size.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    Ok(builder.build()?)
}
