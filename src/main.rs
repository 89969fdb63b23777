//! The `clipguard` command line: argument definitions and dispatch. What each command prints
//! is in `cli`; what it does is in the library.

mod cli;

use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand};
use clipguard::config::Role;
use clipguard::vocab::PersonKind;
use clipguard::vocab::{Action, Origin, Timestamp};
use clipguard::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// Shown by `--help`: scripts branch on these, so they are part of the interface.
const EXIT_CODES: &str = "\
Exit codes:
  0   success; for `check`, every decision is allow
  10  `check`: the most severe decision is review
  20  `check`: the most severe decision is block
  1   an error: a clip that could not be checked (even when the others were decided; for
      `audit`, any clip of the audit), a missing file, models that do not load...
  2   a usage error (an unknown flag, a bad value)

With --json, an error is printed on stdout as {\"error\": {\"code\": \"...\", \"message\": \"...\"}}.";

#[derive(Parser)]
#[command(
    name = "clipguard",
    version,
    about = "Screens AI-generated video before it is published",
    after_help = EXIT_CODES
)]
struct Cli {
    /// TOML configuration file; relative paths in it are relative to its folder. Every key can
    /// also be set by environment: CLIPGUARD_<SECTION>__<KEY> (`clipguard config show`).
    #[arg(long, global = true, env = "CLIPGUARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP service.
    Serve {
        /// The address to listen on, e.g. 127.0.0.1:9000 (default: `server.bind`,
        /// 127.0.0.1:8080; env CLIPGUARD_SERVER__BIND). Anything but loopback needs API keys.
        #[arg(long, value_name = "HOST:PORT")]
        bind: Option<String>,
        /// The folder for the database, keys and uploads in progress (default: `data_dir`,
        /// `data` under the install folder; env CLIPGUARD_DATA_DIR).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Screen clips and/or a prompt and print what was found; the exit code follows the action.
    #[command(
        arg_required_else_help = true,
        after_help = EXIT_CODES,
        group(clap::ArgGroup::new("what").required(true).multiple(true).args(["clips", "prompt", "prompt_file"]))
    )]
    Check(CheckArgs),
    /// Verify a clip against its attestation or its embedded Content Credentials, offline.
    Verify {
        /// The attestation file (what `check --attestation-out` wrote). Needed unless the
        /// clip carries clipguard's Content Credentials (`check --c2pa-out`).
        #[arg(long)]
        attestation: Option<PathBuf>,
        /// The clip to verify: the exact bytes about to be published.
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
    /// Categories defined by example images (scored with CLIP in every clip).
    #[command(subcommand)]
    Categories(CategoriesCommand),
    /// Text categories by example phrases: the set shipped with the policy and an admin's
    /// (scored in prompts, on-screen text and speech).
    #[command(subcommand)]
    TextCategories(TextCategoriesCommand),
    /// Banks of known content (PDQ hashes) that screened clips are matched against.
    #[command(subcommand)]
    Banks(BanksCommand),
    /// Policies: test fixtures, explain a decision.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The review queue: `review` decisions awaiting a person, approved or rejected here as
    /// through the API and the dashboard.
    #[command(subcommand)]
    Reviews(ReviewsCommand),
    /// The decision log.
    #[command(subcommand)]
    Decisions(DecisionsCommand),
    /// API keys for the service.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Re-screen stored clips in bulk and report what the policy decides for each.
    #[command(arg_required_else_help = true)]
    Audit(AuditArgs),
    /// The configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a completion script for a shell, e.g. `clipguard completions bash > /etc/bash_completion.d/clipguard`.
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) as TOML, paths
    /// resolved, API key hashes and passwords redacted.
    Show,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Clips to screen, each on its own: one decision per clip, in order.
    clips: Vec<PathBuf>,
    /// The prompt the clips were generated from (checked alone when no clip is given).
    #[arg(long, conflicts_with = "prompt_file")]
    prompt: Option<String>,
    /// Read the prompt from this file, or from standard input with `-` (a long prompt does
    /// not fit in a command line).
    #[arg(long, value_name = "FILE")]
    prompt_file: Option<PathBuf>,
    /// The caller's own id for the clip, echoed back in the decision (the API's `clip_id`;
    /// `decisions list --clip-id` finds it).
    #[arg(long)]
    clip_id: Option<String>,
    /// Decide with the policy (and term lists) in this folder instead of the configured one.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// The requesting user: shown against each matched person's consent.
    #[arg(long)]
    user: Option<String>,
    /// Print each decision as JSON (one line per clip when there are several), and errors
    /// as {"error": {"code", "message"}}, on stdout. The compact decision the API answers
    /// (action, rules, evidence, attestation) unless --full is given.
    #[arg(long)]
    json: bool,
    /// With --json: the full decision (every frame's detections, the timings and models), as
    /// the API's ?view=full; what `policy explain --signals` reads.
    #[arg(long, requires = "json")]
    full: bool,
    /// Where an allowed clip's signed attestation goes: a file for one clip, or an existing
    /// folder (CLIP-NAME.attestation.json each). Review and block decisions get none.
    #[arg(long, requires = "clips")]
    attestation_out: Option<PathBuf>,
    /// Where an allowed clip goes with clipguard's Content Credentials (a signed C2PA
    /// manifest) embedded: a file for one clip, or an existing folder (same file name each).
    /// MP4/MOV and AVI only. Review and block decisions get none: that is an error.
    #[arg(long, requires = "clips")]
    c2pa_out: Option<PathBuf>,
    /// The generator (model or product) that made the clips, named in their Content
    /// Credentials as the software agent of `c2pa.created`.
    #[arg(long, requires = "c2pa_out")]
    generator: Option<String>,
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
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Replace an existing report (without it, an existing report is refused: give --resume
    /// to continue it, or another --out).
    #[arg(long)]
    force: bool,
    /// Report, per clip and in the summary, where the action differs from the clip's last
    /// logged decision.
    #[arg(long)]
    compare: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new random key; prints it once, with the config lines that hold its hash.
    New {
        /// What the key may do: checker < auditor < admin, each including the ones before.
        #[arg(long)]
        role: Role,
        /// Who holds it (reviews made with it name this reviewer).
        #[arg(long)]
        name: String,
        /// Where its clip checks' decisions are pushed when a request names no
        /// `callback_url` (the host must be in `callbacks.allowed_hosts`).
        #[arg(long)]
        callback_url: Option<String>,
    },
}

/// An RFC 3339 time, refused at parse time so a typo is a usage error, not an empty list, and
/// written as the log writes its times (UTC, milliseconds): compared as text, "05:14:37Z" would
/// sort after "05:14:37.157Z" and miss it.
#[derive(Subcommand)]
enum DecisionsCommand {
    /// Recent decisions, newest first, one line each (or a JSON array with --json).
    List {
        /// Only this action: allow, review or block.
        #[arg(long)]
        action: Option<Action>,
        /// Only decisions for this requesting user.
        #[arg(long)]
        user: Option<String>,
        /// A clip's sha256 (`--clip` is an older name for it).
        #[arg(long = "clip-sha256", alias = "clip")]
        clip: Option<String>,
        /// The caller's own clip id, as sent with the check.
        #[arg(long)]
        clip_id: Option<String>,
        /// Decisions at or after this RFC 3339 time, e.g. 2026-11-24T00:00:00Z.
        #[arg(long)]
        since: Option<Timestamp>,
        /// Decisions before this RFC 3339 time.
        #[arg(long)]
        until: Option<Timestamp>,
        /// Only decisions from checks or from audits.
        #[arg(long)]
        origin: Option<Origin>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print the decisions as a JSON array of compact decisions, as the API lists them.
        #[arg(long)]
        json: bool,
        /// With --json: the full decisions, as `decisions show` prints them.
        #[arg(long, requires = "json")]
        full: bool,
    },
    /// One decision in full (JSON).
    Show {
        /// The decision id (a UUID, as `check` printed it).
        id: String,
    },
}

#[derive(Subcommand)]
enum ReviewsCommand {
    /// `review` decisions nobody has reviewed yet, oldest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print them as a JSON array of compact decisions, as `GET /v1/reviews` lists them.
        #[arg(long)]
        json: bool,
    },
    /// Approve a `review` decision: the clip may be published, with the attestation this
    /// issues (printed as JSON).
    Approve {
        /// The decision id.
        id: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        note: String,
        /// Who reviews (recorded as the reviewer).
        #[arg(long, default_value = "local")]
        reviewer: String,
    },
    /// Reject a `review` decision: it then reads `block`.
    Reject {
        /// The decision id.
        id: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        note: String,
        /// Who reviews (recorded as the reviewer).
        #[arg(long, default_value = "local")]
        reviewer: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Run the policy's fixtures (`<policies>/tests/*.yaml`, or DIR) like a test runner.
    Test {
        /// A folder of fixture files instead of the policy's own `tests/`.
        dir: Option<PathBuf>,
        /// Test the policy (and term lists) in this folder instead of the configured one;
        /// its own `tests/` unless DIR is given.
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Evaluate saved signals (the JSON of `check --json --full`, or a policy input) rule by rule.
    Explain {
        /// The saved JSON file.
        #[arg(long)]
        signals: PathBuf,
        /// The requesting user, if the file does not say.
        #[arg(long)]
        user: Option<String>,
    },
}

/// A person's enrolled voices.
#[derive(Subcommand)]
enum VoicesCommand {
    /// Enrol voice samples for an existing person: audio or video files, each of one person
    /// speaking (at least 5 s of speech); a sample with no speech or several speakers is
    /// refused, and then none is stored.
    Add {
        /// The person's id.
        id: i64,
        /// Audio or video files (WAV, MP3, M4A, MP4, MKV, ...).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PersonsCommand {
    /// Add a person, enrolling a face from each image (each must show exactly one face).
    Add {
        /// The person's full name, as prompts would write it.
        #[arg(long)]
        name: String,
        /// Another name the person is known by (repeatable).
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// public_figure or private_individual (policies treat them differently).
        #[arg(long, default_value = "public_figure")]
        kind: PersonKind,
        /// A user allowed to depict this person (repeatable).
        #[arg(long = "allow")]
        allowed_users: Vec<String>,
        /// A name or alias to match wherever it appears, even as an ordinary word (repeatable).
        #[arg(long = "always-match")]
        always_match: Vec<String>,
        /// A JPEG or PNG showing the person's face alone (repeatable).
        #[arg(long = "image")]
        images: Vec<PathBuf>,
    },
    /// Enrol more face images for an existing person.
    Enrol {
        /// The person's id.
        id: i64,
        /// A JPEG or PNG showing the person's face alone (repeatable).
        #[arg(long = "image", required = true)]
        images: Vec<PathBuf>,
    },
    /// Enrol voice samples: recordings of the person speaking.
    Voices {
        #[command(subcommand)]
        cmd: VoicesCommand,
    },
    /// List every person (or a JSON array with --json).
    List {
        /// Print the persons as a JSON array: id, name, kind, allowed_users, aliases and faces
        /// (counts), as `GET /v1/persons` answers.
        #[arg(long)]
        json: bool,
    },
    /// Show one person (JSON).
    Show {
        /// The person's id.
        id: i64,
    },
    /// Remove a person and their faces.
    Remove {
        /// The person's id.
        id: i64,
    },
    /// Allow a user to depict a person.
    Allow {
        /// The person's id.
        id: i64,
        /// The user (as checks name it with --user).
        user: String,
    },
    /// Stop allowing a user to depict a person.
    Revoke {
        /// The person's id.
        id: i64,
        /// The user (as checks name it with --user).
        user: String,
    },
    /// Import persons (names, aliases, kind, allowed users) from JSON lines, all or nothing.
    Import {
        /// The JSON-lines file, one person per line.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum CategoriesCommand {
    /// Define a category by at least 3 example images (and optional counter-examples).
    Create {
        /// Lower-case letters, digits and _: policies read signals.categories.<name>.
        name: String,
        /// An image of what the category catches (repeatable; at least 3).
        #[arg(long = "example", required = true)]
        examples: Vec<PathBuf>,
        /// An image of a look-alike that must not count (repeatable).
        #[arg(long = "counter-example")]
        counter_examples: Vec<PathBuf>,
        /// What the category is for, for reviewers.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the categories and the set's version (or JSON with --json).
    List {
        /// Print `{"version", "categories"}` as `GET /v1/categories` answers.
        #[arg(long)]
        json: bool,
    },
    /// Show one category (JSON).
    Show {
        /// The category's name.
        name: String,
    },
    /// Delete a category and its examples.
    Delete {
        /// The category's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum TextCategoriesCommand {
    /// Add a category by at least 3 example phrases in any language (or by others, --all-of).
    Create {
        /// Lower-case letters, digits and _: policies read prompt.meaning.<name>.
        name: String,
        /// 0 (a signal for other categories' --all-of), 1 (low), 2 (medium) or 3 (high).
        #[arg(long)]
        severity: u8,
        /// A phrase of what the category catches (repeatable; at least 3).
        #[arg(long = "example")]
        examples: Vec<String>,
        /// An innocent look-alike that must not count (repeatable).
        #[arg(long = "counter-example")]
        counter_examples: Vec<String>,
        /// A category that must count for this one to (repeatable; no phrases then).
        #[arg(long = "all-of")]
        all_of: Vec<String>,
        /// The head's probability (0-1) at which a passage counts (default: the set's).
        #[arg(long)]
        threshold: Option<f32>,
        /// What the category is for, for reviewers.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the categories (shipped and added) and the set's version (or JSON with --json).
    List {
        /// Print `{"version", "categories"}` as `GET /v1/text-categories` answers.
        #[arg(long)]
        json: bool,
    },
    /// Show one category with its phrases (JSON).
    Show {
        /// The category's name.
        name: String,
    },
    /// Delete a category an admin added.
    Delete {
        /// The category's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum BanksCommand {
    /// Create a bank.
    Create {
        /// Its name (unique).
        name: String,
        /// Where its hashes come from, for reviewers (a ThreatExchange privacy group...).
        #[arg(long)]
        source: String,
        /// What policies are told to do with matching content: block, review or allow.
        #[arg(long, default_value = "block")]
        action: Action,
    },
    /// List the banks with their hash and item counts (or a JSON array with --json).
    List {
        /// Print the banks as a JSON array, as `GET /v1/banks` answers.
        #[arg(long)]
        json: bool,
    },
    /// Import a file of hex PDQ hashes into a bank, all or nothing: one hash per line,
    /// optionally followed by its quality and the item it belongs to (`hash,quality,item`).
    Import {
        /// The bank's name.
        name: String,
        /// The hash file.
        file: PathBuf,
    },
    /// Add the frame hashes of a decided clip (a blocked one, say) to a bank.
    AddDecision {
        /// The bank's name.
        name: String,
        /// The decision's id.
        decision: String,
    },
    /// Remove a bank and its hashes.
    Remove {
        /// The bank's name.
        name: String,
    },
}

impl Command {
    /// Whether the command reads the configuration: completions and new keys work without one
    /// (and before `make setup`).
    fn needs_config(&self) -> bool {
        !matches!(self, Command::Completions { .. } | Command::Keys(_))
    }

    /// Whether the user asked for JSON: errors are then printed as JSON too.
    fn json(&self) -> bool {
        match self {
            Command::Check(a) => a.json,
            Command::Decisions(DecisionsCommand::List { json, .. })
            | Command::Reviews(ReviewsCommand::List { json, .. })
            | Command::Persons(PersonsCommand::List { json })
            | Command::Categories(CategoriesCommand::List { json })
            | Command::TextCategories(TextCategoriesCommand::List { json }) => *json,
            Command::Banks(BanksCommand::List { json }) => *json,
            // These print JSON already.
            Command::Decisions(DecisionsCommand::Show { .. })
            | Command::Reviews(ReviewsCommand::Approve { .. } | ReviewsCommand::Reject { .. })
            | Command::Persons(PersonsCommand::Show { .. })
            | Command::Categories(CategoriesCommand::Show { .. })
            | Command::TextCategories(TextCategoriesCommand::Show { .. }) => true,
            _ => false,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if !matches!(cli.command, Command::Serve { .. }) {
        quiet_on_closed_pipe();
    }
    let json = cli.command.json();
    // Loaded once, before logging starts (its format is a setting), so a mistake in it is
    // reported once.
    let cfg = cli
        .command
        .needs_config()
        .then(|| Config::load(cli.config.as_deref()));
    let format = match &cfg {
        Some(Ok(cfg)) => cfg.log.format,
        _ => clipguard::config::LogFormat::Text,
    };
    let default_level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    let traces = match &cfg {
        Some(Ok(cfg)) => cfg.traces.clone(),
        _ => Default::default(),
    };
    // Held until the command ends: dropping it sends the last spans.
    let exporter = match clipguard::logs::init(format, default_level, &traces) {
        Ok(exporter) => exporter,
        Err(e) => {
            let e = anyhow::Error::from(e);
            cli::print_error(&e, json);
            return ExitCode::from(cli::exit_status(&e));
        }
    };
    let done = match cfg.transpose() {
        Ok(cfg) => run(cli.command, cfg),
        Err(e) => Err(e.into()),
    };
    let code = match done {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            cli::print_error(&e, json);
            ExitCode::from(cli::exit_status(&e))
        }
    };
    drop(exporter);
    code
}

/// A command whose output is piped into a reader that stops early (`check ... | head`) ends
/// quietly, as command-line tools do, instead of panicking on the failed write: SIGPIPE is
/// restored to its default for it. The server keeps ignoring it, so a client that hangs up
/// is an error on that connection only.
fn quiet_on_closed_pipe() {
    // SAFETY: called once at start, before any thread is spawned; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// clap's own exit for help and version; a usage error as JSON when `--json` was given, so a
/// script reading stdout always gets JSON back.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let wants_json = std::env::args_os()
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let shows_text = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !wants_json || shows_text {
        e.exit();
    }
    let rendered = e.render().to_string();
    let message = rendered.lines().next().unwrap_or_default();
    cli::print_json_error("usage", message.trim_start_matches("error: "));
    ExitCode::from(cli::exit::USAGE)
}

fn run(command: Command, cfg: Option<Config>) -> anyhow::Result<u8> {
    // Present exactly when `needs_config` says so.
    let cfg = || cfg.context("internal: the configuration was not loaded");
    let done = match command {
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "clipguard", &mut std::io::stdout());
            Ok(())
        }
        Command::Serve { bind, data_dir } => {
            let mut cfg = cfg()?;
            if let Some(bind) = bind {
                cfg.server.bind = bind;
            }
            if let Some(dir) = data_dir {
                cfg.data_dir = std::path::absolute(&dir)
                    .with_context(|| format!("the data folder {}", dir.display()))?;
            }
            cli::serve(cfg)
        }
        Command::Keys(KeysCommand::New {
            role,
            name,
            callback_url,
        }) => {
            cli::new_key(role, &name, callback_url.as_deref());
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => cli::config_show(&cfg()?),
        Command::Check(args) => return cli::check(cfg()?, args),
        Command::Verify {
            attestation,
            clip,
            key,
        } => cli::verify(&cfg()?, attestation.as_deref(), &clip, key),
        Command::Policy(PolicyCommand::Test { dir, policies }) => {
            let mut cfg = cfg()?;
            if let Some(p) = policies {
                cfg.policies.dir = p;
            }
            cli::policy_test(&cfg, dir)
        }
        Command::Policy(PolicyCommand::Explain { signals, user }) => {
            cli::policy_explain(&cfg()?, &signals, user)
        }
        Command::Audit(args) => return cli::audit(cfg()?, args),
        Command::Decisions(cmd) => cli::decisions(cfg()?, cmd),
        Command::Reviews(cmd) => cli::reviews(cfg()?, cmd),
        Command::Persons(cmd) => cli::persons(cfg()?, cmd),
        Command::Categories(cmd) => cli::categories(cfg()?, cmd),
        Command::TextCategories(cmd) => cli::text_categories(cfg()?, cmd),
        Command::Banks(cmd) => cli::banks(cfg()?, cmd),
        Command::Models => cli::models(&cfg()?),
    };
    done.map(|()| cli::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument and every command of the whole tree, with the path that leads to it.
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        let here = format!("{path} {}", cmd.get_name()).trim().to_string();
        if cmd.get_about().is_none() && !path.is_empty() {
            out.push(format!("command `{here}` has no help"));
        }
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("`{here}` argument `{}` has no help", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                walk(sub, &here, out);
            }
        }
    }

    #[test]
    fn every_command_and_argument_has_help() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "", &mut missing);
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn exit_codes_are_in_the_help_of_check_and_the_top_level() {
        let mut cmd = Cli::command();
        let top = cmd.render_long_help().to_string();
        let check = cmd
            .find_subcommand_mut("check")
            .unwrap()
            .render_long_help()
            .to_string();
        for help in [top, check] {
            for code in ["0 ", "10 ", "20 ", "1 ", "2 "] {
                assert!(help.contains(&format!("  {code}")), "{code}: {help}");
            }
        }
    }
}
