//! The `clipguard` command line: argument definitions and dispatch. What each command prints
//! is in `cli`; what it does is in the library.

mod cli;

use clap::{Parser, Subcommand};
use clipguard::config::Role;
use clipguard::vocab::PersonKind;
use clipguard::vocab::{Action, Origin};
use clipguard::Config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "clipguard",
    version,
    about = "Screens AI-generated video before it is published"
)]
struct Cli {
    /// TOML configuration file (defaults work from the repository root after `make setup`).
    #[arg(long, global = true, env = "CLIPGUARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP service.
    Serve,
    /// Screen a clip and/or a prompt and print what was found.
    #[command(arg_required_else_help = true)]
    Check(CheckArgs),
    /// Verify a clip against its attestation, offline.
    Verify {
        #[arg(long)]
        attestation: PathBuf,
        clip: PathBuf,
        /// The public key (hex); defaults to the data folder's `attestation.pub`.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Verify the model files against the manifest and list them.
    Models,
    /// The protected-persons registry.
    #[command(subcommand)]
    Persons(PersonsCommand),
    /// Policies: test fixtures, explain a decision.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The decision log.
    #[command(subcommand)]
    Decisions(DecisionsCommand),
    /// API keys for the service.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Re-screen stored clips in bulk and report what the policy decides for each.
    #[command(arg_required_else_help = true)]
    Audit(AuditArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The clip to screen.
    clip: Option<PathBuf>,
    /// The prompt the clip was generated from.
    #[arg(long)]
    prompt: Option<String>,
    /// The requesting user: shown against each matched person's consent.
    #[arg(long)]
    user: Option<String>,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
    /// When the clip is allowed, write its signed attestation here.
    #[arg(long)]
    attestation_out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Folders (recursive), globs, single clips, files listing paths or URIs (one per
    /// line), or object-store prefixes (s3://bucket/prefix; AWS_* environment).
    #[arg(required = true)]
    sources: Vec<String>,
    /// Audit with the policy (and term lists) in this folder instead.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// The report: one JSON line per clip, then a summary line.
    #[arg(long, default_value = "audit.jsonl")]
    out: PathBuf,
    /// Clips screened at once (decoding of one overlaps inference of another).
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Only the clips of shard K of N (by a stable hash of their key).
    #[arg(long)]
    shard: Option<clipguard::audit::Shard>,
    /// Continue an interrupted audit from its report: no clip lost or repeated.
    #[arg(long)]
    resume: bool,
    /// Report, per clip and in the summary, where the action differs from the clip's last
    /// logged decision.
    #[arg(long)]
    compare: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new random key; prints it once, with the config lines that hold its hash.
    New {
        #[arg(long)]
        role: Role,
        /// Who holds it (reviews made with it name this reviewer).
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum DecisionsCommand {
    /// Recent decisions, newest first, one line each.
    List {
        #[arg(long)]
        action: Option<Action>,
        #[arg(long)]
        user: Option<String>,
        /// A clip's sha256.
        #[arg(long)]
        clip: Option<String>,
        /// RFC 3339 time, e.g. 2026-11-24T00:00:00Z.
        #[arg(long)]
        since: Option<String>,
        /// Only decisions from checks or from audits.
        #[arg(long)]
        origin: Option<Origin>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One decision in full (JSON).
    Show { id: String },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Run the policy's fixtures (`<policies>/tests/*.yaml`, or DIR) like a test runner.
    Test { dir: Option<PathBuf> },
    /// Evaluate saved signals (the JSON of `check --json`, or a policy input) rule by rule.
    Explain {
        #[arg(long)]
        signals: PathBuf,
        /// The requesting user, if the file does not say.
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
enum PersonsCommand {
    /// Add a person, enrolling a face from each image (each must show exactly one face).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long = "alias")]
        aliases: Vec<String>,
        #[arg(long, default_value = "public_figure")]
        kind: PersonKind,
        /// A user allowed to depict this person (repeatable).
        #[arg(long = "allow")]
        allowed_users: Vec<String>,
        /// A name or alias to match wherever it appears, even as an ordinary word (repeatable).
        #[arg(long = "always-match")]
        always_match: Vec<String>,
        #[arg(long = "image")]
        images: Vec<PathBuf>,
    },
    /// Enrol more face images for an existing person.
    Enrol {
        id: i64,
        #[arg(long = "image", required = true)]
        images: Vec<PathBuf>,
    },
    /// List every person.
    List,
    /// Show one person.
    Show { id: i64 },
    /// Remove a person and their faces.
    Remove { id: i64 },
    /// Allow a user to depict a person.
    Allow { id: i64, user: String },
    /// Stop allowing a user to depict a person.
    Revoke { id: i64, user: String },
    /// Import persons (names, aliases, kind, allowed users) from JSON lines, all or nothing.
    Import { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => cli::serve(cfg),
        Command::Keys(KeysCommand::New { role, name }) => {
            cli::new_key(role, &name);
            Ok(())
        }
        Command::Check(args) => cli::check(cfg, args),
        Command::Verify {
            attestation,
            clip,
            key,
        } => cli::verify(&cfg, &attestation, &clip, key),
        Command::Policy(PolicyCommand::Test { dir }) => cli::policy_test(&cfg, dir),
        Command::Policy(PolicyCommand::Explain { signals, user }) => {
            cli::policy_explain(&cfg, &signals, user)
        }
        Command::Audit(args) => cli::audit(cfg, args),
        Command::Decisions(cmd) => cli::decisions(cfg, cmd),
        Command::Persons(cmd) => cli::persons(cfg, cmd),
        Command::Models => cli::models(&cfg),
    }
}
