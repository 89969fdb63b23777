//! The `clipguard` command line: serve the API, or screen a clip from the shell.

use anyhow::Context;
use clap::{Parser, Subcommand};
use clipguard::attest::{self, Attestation};
use clipguard::config::Role;
use clipguard::persons::{NewPerson, PersonKind};
use clipguard::policy::{
    Action, LivePolicy, Mode, Policy, PolicyInput, RequestContext, RuleOutcome, Verdict,
};
use clipguard::screen::{CheckRequest, Checker, Decision, Origin, PromptSignals};
use clipguard::{Config, Screener, Signals};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    Check {
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
    },
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
    Audit {
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
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new random key; prints it once, with the config lines that hold its hash.
    New {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Who holds it (reviews made with it name this reviewer).
        #[arg(long)]
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("{s:?} is not checker, auditor or admin"))
}

#[derive(Subcommand)]
enum DecisionsCommand {
    /// Recent decisions, newest first, one line each.
    List {
        #[arg(long, value_parser = parse_action)]
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
        #[arg(long, value_parser = parse_origin)]
        origin: Option<Origin>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One decision in full (JSON).
    Show { id: String },
}

mod progress;

fn parse_origin(s: &str) -> Result<Origin, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("{s:?} is not check or audit"))
}

/// The policy in force, the models and the signing key: what deciding needs.
fn checker(cfg: &Config) -> anyhow::Result<Checker> {
    let policy = Arc::new(LivePolicy::load(&cfg.policies)?);
    let screener = Arc::new(Screener::load(cfg).context("loading models")?);
    Ok(Checker::new(screener, policy, &cfg.data_dir)?)
}

fn parse_action(s: &str) -> Result<Action, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("{s:?} is not allow, review or block"))
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
        #[arg(long, default_value = "public_figure", value_parser = parse_kind)]
        kind: PersonKind,
        /// A user allowed to depict this person (repeatable).
        #[arg(long = "allow")]
        allowed_users: Vec<String>,
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

fn parse_kind(s: &str) -> Result<PersonKind, String> {
    s.parse()
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
        Command::Serve => {
            clipguard::http::check_access(&cfg)?;
            let checker = Arc::new(checker(&cfg)?);
            actix_web::rt::System::new().block_on(clipguard::http::serve(&cfg, checker))?;
            Ok(())
        }
        Command::Keys(KeysCommand::New { role, name }) => {
            let key = clipguard::http::auth::new_key();
            println!("# Give this key to {name}; it is shown only once:\n# {key}\n");
            println!("[[server.api_keys]]");
            println!("name = {name:?}");
            println!(
                "role = {:?}",
                serde_json::to_value(role)?.as_str().unwrap_or_default()
            );
            println!("sha256 = {:?}", clipguard::http::auth::hash_key(&key));
            Ok(())
        }
        Command::Check {
            clip,
            prompt,
            user,
            json,
            attestation_out,
        } => {
            let checker = checker(&cfg)?;
            let request = CheckRequest {
                prompt: prompt.clone(),
                user: user.clone(),
                ..Default::default()
            };
            let screened = clip
                .as_deref()
                .map(|c| checker.screen_file(c))
                .transpose()?;
            // Logged before it is shown: a decision anyone saw is in the log.
            let decision = checker.decide(Origin::Check, &request, screened)?;
            if let (Some(out), Some(a)) = (&attestation_out, &decision.attestation) {
                std::fs::write(out, serde_json::to_string_pretty(a)?)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&decision)?);
            } else {
                if let (Some(c), Some(s)) = (&clip, &decision.clip) {
                    print_summary(c, s, user.as_deref());
                }
                if let (Some(p), Some(s)) = (&prompt, &decision.prompt) {
                    print_prompt(p, s, user.as_deref());
                }
                print_verdict(&decision.decision);
                println!("decision id: {}", decision.id);
                if let Some(a) = &decision.attestation {
                    let to = attestation_out
                        .as_ref()
                        .map(|p| format!(", written to {}", p.display()))
                        .unwrap_or_default();
                    println!(
                        "attestation: signed by key {} for clip sha256 {}{to}",
                        a.key_id, a.statement.clip_sha256
                    );
                }
            }
            Ok(())
        }
        Command::Verify {
            attestation,
            clip,
            key,
        } => {
            let key_path = key.unwrap_or_else(|| attest::key_paths(&cfg.data_dir).1);
            let key = attest::read_public_key(&key_path)?;
            let text = std::fs::read_to_string(&attestation)
                .with_context(|| format!("reading {}", attestation.display()))?;
            let a: Attestation = serde_json::from_str(&text)
                .map_err(|e| attest::AttestError::Malformed(e.to_string()))?;
            attest::verify(&key, &a, &attest::sha256_file(&clip)?)?;
            println!(
                "ok: {} is the clip allowed by decision {} (policy {}, issued {})",
                clip.display(),
                a.statement.decision_id,
                &a.statement.policy_version[..12.min(a.statement.policy_version.len())],
                a.statement.issued_at
            );
            Ok(())
        }
        Command::Policy(cmd) => policy_command(&cfg, cmd),
        Command::Audit {
            sources,
            policies,
            out,
            concurrency,
            shard,
            resume,
            compare,
        } => {
            let mut cfg = cfg;
            if let Some(dir) = policies {
                cfg.policies.dir = dir;
            }
            let checker = Arc::new(checker(&cfg)?);
            let pool = clipguard::screen::pool::Pool::new(concurrency, concurrency);
            let opts = clipguard::audit::AuditOptions {
                sources,
                out: out.clone(),
                concurrency,
                shard,
                resume,
                compare,
                max_file_bytes: cfg.media.max_file_bytes,
            };
            let progress = progress::AuditProgress::new();
            let summary = clipguard::audit::run(&checker, &pool, &opts, &progress)?;
            progress.finish();
            progress::print_summary(&summary, &out);
            Ok(())
        }
        Command::Decisions(cmd) => {
            let screener = Screener::load(&cfg).context("loading models")?;
            match cmd {
                DecisionsCommand::List {
                    action,
                    user,
                    clip,
                    since,
                    origin,
                    limit,
                } => {
                    let q = clipguard::store::DecisionQuery {
                        action,
                        user,
                        clip_sha256: clip,
                        since,
                        until: None,
                        origin,
                        limit,
                    };
                    for d in screener.decisions().list(&q)? {
                        let rules: Vec<&str> =
                            d.decision.matched.iter().map(|m| m.rule.as_str()).collect();
                        println!(
                            "{}  {}  {:<6}  user {:<10} clip {}  {}",
                            d.id,
                            d.created_at,
                            format!("{:?}", d.decision.action).to_lowercase(),
                            d.user.as_deref().unwrap_or("-"),
                            d.clip_sha256.as_deref().map(|c| &c[..12]).unwrap_or("-"),
                            rules.join(",")
                        );
                    }
                }
                DecisionsCommand::Show { id } => match screener.decisions().get(&id)? {
                    Some(d) => println!("{}", serde_json::to_string_pretty(&d)?),
                    None => anyhow::bail!("no decision with id {id}"),
                },
            }
            Ok(())
        }
        Command::Persons(cmd) => persons(&cfg, cmd),
        Command::Models => {
            let screener = Screener::load(&cfg).context("loading models")?;
            for m in screener.models() {
                println!(
                    "{:<16} {:<7} {}  {}",
                    m.name,
                    format!("{:?}", m.kind).to_lowercase(),
                    m.sha256,
                    m.source
                );
            }
            Ok(())
        }
    }
}

fn persons(cfg: &Config, cmd: PersonsCommand) -> anyhow::Result<()> {
    let screener = Screener::load(cfg).context("loading models")?;
    let reg = screener.registry();
    match cmd {
        PersonsCommand::Add {
            name,
            aliases,
            kind,
            allowed_users,
            images,
        } => {
            // If any image is refused the new person is removed again: a failed add leaves no trace.
            let person = NewPerson {
                name,
                aliases,
                kind,
                allowed_users,
                always_match: Vec::new(),
            };
            for w in reg.name_warnings(&person)? {
                eprintln!("warning: {:?}: {}", w.name, w.message);
            }
            let id = reg.add(&person)?;
            let paths: Vec<&Path> = images.iter().map(PathBuf::as_path).collect();
            match screener.enrol(id, &paths) {
                Ok(faces) => println!(
                    "added person {id} ({}) with {} face(s)",
                    person.name,
                    faces.len()
                ),
                Err(e) => {
                    reg.remove(id)?;
                    return Err(e.into());
                }
            }
        }
        PersonsCommand::Enrol { id, images } => {
            let paths: Vec<&Path> = images.iter().map(PathBuf::as_path).collect();
            let faces = screener.enrol(id, &paths)?;
            println!("enrolled {} face(s) for person {id}", faces.len());
        }
        PersonsCommand::List => {
            for (p, aliases, faces) in reg.list()? {
                println!(
                    "{:>6}  {:<32} {:<18} {} aliases, {} faces, allowed: {}",
                    p.id,
                    p.name,
                    p.kind.as_str(),
                    aliases,
                    faces,
                    if p.allowed_users.is_empty() {
                        "nobody".to_string()
                    } else {
                        p.allowed_users.join(", ")
                    }
                );
            }
        }
        PersonsCommand::Show { id } => println!("{}", serde_json::to_string_pretty(&reg.get(id)?)?),
        PersonsCommand::Remove { id } => {
            reg.remove(id)?;
            println!("removed person {id}");
        }
        PersonsCommand::Allow { id, user } => {
            reg.set_consent(id, &user, true)?;
            println!("{user} may now depict person {id}");
        }
        PersonsCommand::Revoke { id, user } => {
            reg.set_consent(id, &user, false)?;
            println!("{user} may no longer depict person {id}");
        }
        PersonsCommand::Import { file } => {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let started = std::time::Instant::now();
            let n = reg.import(&file.display().to_string(), std::io::BufReader::new(f))?;
            println!(
                "imported {n} persons in {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn policy_command(cfg: &Config, cmd: PolicyCommand) -> anyhow::Result<()> {
    let policy = Policy::from_config(&cfg.policies)?;
    match cmd {
        PolicyCommand::Test { dir } => {
            let dir = dir.unwrap_or_else(|| cfg.policies.dir.join("tests"));
            println!(
                "policy {} ({}), fixtures in {}",
                policy.name,
                &policy.version[..12],
                dir.display()
            );
            let outcomes = clipguard::policy::run_fixtures(&policy, &dir)?;
            let failed = outcomes.iter().filter(|o| !o.problems.is_empty()).count();
            for o in &outcomes {
                let status = if o.problems.is_empty() {
                    "ok"
                } else {
                    "FAILED"
                };
                println!("test {}::{} ... {status}", o.file, o.name);
                for p in &o.problems {
                    println!("    {p}");
                }
            }
            println!(
                "\npolicy: {} passed, {} failed",
                outcomes.len() - failed,
                failed
            );
            if outcomes.is_empty() {
                anyhow::bail!("no policy fixtures in {}", dir.display());
            }
            if failed > 0 {
                anyhow::bail!("{failed} of {} policy fixtures failed", outcomes.len());
            }
            Ok(())
        }
        PolicyCommand::Explain { signals, user } => {
            let text = std::fs::read_to_string(&signals)
                .with_context(|| format!("reading {}", signals.display()))?;
            let mut input: PolicyInput = match serde_json::from_str::<PolicyInput>(&text) {
                Ok(i) => i,
                Err(_) => {
                    let report: Decision = serde_json::from_str(&text).with_context(|| {
                        format!(
                            "{}: neither `check --json` output nor a policy input",
                            signals.display()
                        )
                    })?;
                    let request = RequestContext {
                        user: report.user.clone().unwrap_or_default(),
                        consents: Vec::new(),
                    };
                    PolicyInput::new(report.clip.as_ref(), report.prompt.as_ref(), request, None)
                }
            };
            if let Some(u) = user {
                input.request.user = u;
            }
            println!(
                "policy {} ({}), user {:?}",
                policy.name,
                &policy.version[..12],
                input.request.user
            );
            for (rule, outcome) in policy.rules.iter().zip(policy.explain(&input)) {
                let mode = if rule.mode == Mode::Shadow {
                    " [shadow]"
                } else {
                    ""
                };
                match outcome {
                    RuleOutcome::Matched(m) => println!(
                        "  MATCH  {}{mode} -> {:?}: {}",
                        rule.id, m.action, m.message
                    ),
                    RuleOutcome::NotMatched => println!("  -      {}{mode}", rule.id),
                    RuleOutcome::Failed(e) => println!("  ERROR  {}{mode}: {e}", rule.id),
                }
            }
            print_verdict(&policy.decide(&input));
            Ok(())
        }
    }
}

fn print_verdict(v: &Verdict) {
    println!(
        "decision: {:?} (policy {} {})",
        v.action,
        v.policy.name,
        &v.policy.version[..12]
    );
    for m in &v.matched {
        println!("  {:?} by {}: {}", m.action, m.rule, m.message);
    }
    for m in &v.shadow {
        println!("  shadow {}: would {:?}: {}", m.rule, m.action, m.message);
    }
    for f in &v.failures {
        println!("  rule {} failed (fail closed): {}", f.rule, f.error);
    }
}

fn consent(allowed: &[String], user: Option<&str>) -> &'static str {
    match user {
        Some(u) if allowed.iter().any(|a| a == u) => "allowed for this user",
        Some(_) => "NOT allowed for this user",
        None => "no user given",
    }
}

fn print_prompt(prompt: &str, s: &PromptSignals, user: Option<&str>) {
    println!("prompt: {prompt:?}");
    if s.persons.is_empty() {
        println!("  no registered person named");
    }
    for m in &s.persons {
        println!(
            "  person {} ({}, {}): {:?} at bytes {}..{} matches {:?} ({:?}, score {} for {}, {}); {}",
            m.person_id,
            m.name,
            m.kind.as_str(),
            m.text,
            m.start,
            m.end,
            m.alias,
            m.strength,
            m.score,
            m.reasons.join(" "),
            if m.exact {
                "as written"
            } else {
                "after normalisation"
            },
            consent(&m.allowed_users, user)
        );
    }
    for t in &s.terms {
        println!(
            "  term [{}] {:?} at bytes {}..{} ({:?})",
            t.category, t.term, t.start, t.end, t.text
        );
    }
}

fn print_summary(clip: &Path, s: &Signals, user: Option<&str>) {
    let m = &s.media;
    println!(
        "{}: {} {} {}x{} {:.2} fps {:.2} s",
        clip.display(),
        m.container,
        m.codec,
        m.width,
        m.height,
        m.fps,
        m.duration_s
    );
    let st = &s.sampling;
    println!(
        "frames: {} decoded, {} sampled ({} analysed, {} near-duplicates, {} over budget), {} scene cuts, {:.2} s decoded",
        st.decoded_frames, st.sampled_frames, st.analysed_frames, st.duplicate_frames, st.over_budget_frames, st.scene_cuts, st.decoded_s
    );
    let f = &s.faces;
    println!(
        "faces: in {} of {} sampled frames (at most {} in one); {} embedded, {} too small to embed",
        f.frames_with_faces,
        s.frames.len(),
        f.max_faces_in_frame,
        f.faces_embedded,
        f.faces_too_small
    );
    for p in &s.persons {
        println!(
            "person {} ({}, {}): best distance {:.3} at {:.2} s, in {} frames from {:.2} s to {:.2} s; {}",
            p.person_id,
            p.name,
            p.kind.as_str(),
            p.best_distance,
            p.best_time_s,
            p.frames,
            p.first_s,
            p.last_s,
            consent(&p.allowed_users, user)
        );
    }
    if s.nudity.is_empty() {
        println!("nudity: no class detected");
    } else {
        println!("nudity (highest score per class):");
        for (class, peak) in &s.nudity {
            println!(
                "  {:<26} {:.3} at {:>6.2} s  ({} frames)",
                class.name(),
                peak.max_score,
                peak.time_s,
                peak.frames
            );
        }
    }
    println!("sampled frames:");
    for fr in &s.frames {
        let reasons: Vec<String> = fr
            .reasons
            .iter()
            .map(|r| format!("{r:?}").to_lowercase())
            .collect();
        let faces: Vec<String> = fr
            .faces
            .iter()
            .map(|f| format!("{:.2}", f.face.score))
            .collect();
        let nudity: Vec<String> = fr
            .nudity
            .iter()
            .map(|d| format!("{} {:.2}", d.class.name(), d.score))
            .collect();
        println!(
            "  {:>7.2} s  {:<26} faces [{}]  nudity [{}]{}",
            fr.time_s,
            reasons.join(","),
            faces.join(", "),
            nudity.join(", "),
            fr.duplicate_of
                .map(|i| format!("  (same as frame {i})"))
                .unwrap_or_default()
        );
    }
    let t = &s.timings;
    println!(
        "timings (ms): probe {:.0}, decode {:.0}, sampling {:.0}, nudity {:.0}, faces {:.0}, embedding {:.0}, total {:.0}",
        t.probe_ms, t.decode_ms, t.sample_ms, t.nudity_ms, t.faces_ms, t.embed_ms, t.total_ms
    );
    let models: Vec<String> = s
        .models
        .iter()
        .map(|m| format!("{} {}", m.name, &m.sha256[..12]))
        .collect();
    println!("models: {}", models.join(", "));
}
