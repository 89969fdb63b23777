//! (CLI only) What each command does with the library, and how it prints it.

mod progress;

use crate::{
    AuditArgs, BanksCommand, CategoriesCommand, CheckArgs, DecisionsCommand, PersonsCommand,
    ReviewsCommand, TextCategoriesCommand, VoicesCommand,
};
use anyhow::Context as _;
use clipguard::attest::{self, AttestError};
use clipguard::banks::{BanksError, NewBank};
use clipguard::config::Role;
use clipguard::media::MediaError;
use clipguard::objects::ObjectError;
use clipguard::persons::{NewPerson, PersonsError};
use clipguard::policy::{Policy, PolicyError, PolicyInput, RuleOutcome};
use clipguard::screen::{ScreenError, Screener};
use clipguard::service::{CheckError, ClipLocation, ClipSource, Context, ContextError};
use clipguard::store::{DecisionQuery, StoreError};
use clipguard::vocab::{
    Attestation, CheckRequest, Consent, Decision, Failure, Mode, Origin, PromptSignals, Signals,
    Verdict,
};
use clipguard::Config;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn serve(cfg: Config) -> anyhow::Result<()> {
    clipguard::http::check_access(&cfg)?;
    let ctx = Context::open(cfg)?;
    let service = ctx.service(ctx.cfg.server.workers, ctx.cfg.server.queue)?;
    let warming = service.clone();
    std::thread::spawn(move || warming.warm());
    actix_web::rt::System::new().block_on(clipguard::http::serve(&ctx.cfg, service))?;
    Ok(())
}

/// The effective configuration as TOML, secrets redacted.
pub fn config_show(cfg: &Config) -> anyhow::Result<()> {
    print!("{}", toml::to_string_pretty(&cfg.redacted())?);
    Ok(())
}

pub fn new_key(role: Role, name: &str, callback_url: Option<&str>) {
    let key = clipguard::http::auth::new_key();
    println!("# Give this key to {name}; it is shown only once:\n# {key}\n");
    println!("[[server.api_keys]]");
    println!("name = {name:?}");
    println!("role = {:?}", role.as_str());
    println!("sha256 = {:?}", clipguard::http::auth::hash_key(&key));
    if let Some(url) = callback_url {
        println!("callback_url = {url:?}");
    }
}

/// A year: the CLI waits as long as screening takes.
const NO_DEADLINE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Exit statuses, documented in `--help` and docs/cli.md: scripts branch on them.
pub mod exit {
    use clipguard::vocab::Action;

    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// clap's own status for usage errors.
    pub const USAGE: u8 = 2;
    pub const REVIEW: u8 = 10;
    pub const BLOCK: u8 = 20;

    pub fn of(action: Action) -> u8 {
        match action {
            Action::Allow => OK,
            Action::Review => REVIEW,
            Action::Block => BLOCK,
        }
    }
}

/// A failure of the CLI itself, with the code `--json` reports.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct CliError {
    code: &'static str,
    message: String,
}

fn fail(code: &'static str, message: impl Into<String>) -> anyhow::Error {
    CliError {
        code,
        message: message.into(),
    }
    .into()
}

/// The stable code of an error: the library's own (the same codes the HTTP API answers), else
/// the CLI's, else `io` for a file the CLI could not read or write, else `error`.
fn error_code(e: &anyhow::Error) -> &'static str {
    macro_rules! failure {
        ($cause:expr, $($t:ty),*) => {$(
            if let Some(f) = $cause.downcast_ref::<$t>() {
                return f.code().as_str();
            }
        )*};
    }
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<CliError>() {
            return c.code;
        }
        failure!(
            cause,
            CheckError,
            ContextError,
            MediaError,
            ScreenError,
            StoreError,
            PersonsError,
            clipguard::categories::CategoriesError,
            clipguard::meaning::TextCategoriesError,
            BanksError,
            PolicyError,
            AttestError,
            ObjectError,
            clipguard::attest::c2pa::CredentialError
        );
        if cause.is::<clipguard::config::ConfigError>() {
            return "config";
        }
        if cause.is::<std::io::Error>() {
            return "io";
        }
    }
    "error"
}

/// The exit status of a failed command.
pub fn exit_status(e: &anyhow::Error) -> u8 {
    if error_code(e) == "usage" {
        exit::USAGE
    } else {
        exit::ERROR
    }
}

pub fn print_json_error(code: &str, message: &str) {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    println!("{body}");
}

/// An error as the user asked for output: JSON on stdout, or one `error:` line on stderr.
pub fn print_error(e: &anyhow::Error, json: bool) {
    if json {
        print_json_error(error_code(e), &format!("{e:#}"));
    } else {
        eprintln!("error: {e:#}");
    }
}

/// One decision (compact or full) as `check --json` prints it: pretty for one clip, one line
/// `{"clip", "decision"}` per clip for several. Serialised from the types, as the API does.
fn print_decision<T: serde::Serialize>(
    decision: &T,
    clip: Option<String>,
    several: bool,
) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct Line<'a, T> {
        clip: Option<String>,
        decision: &'a T,
    }
    if several {
        println!("{}", serde_json::to_string(&Line { clip, decision })?);
    } else {
        println!("{}", serde_json::to_string_pretty(decision)?);
    }
    Ok(())
}

/// Where an allowed clip's attestation goes: the file named, or `<name>.attestation.json` in
/// the folder named.
fn attestation_path(out: &Path, clip: &Path) -> PathBuf {
    if out.is_dir() {
        let name = clip.file_name().unwrap_or(clip.as_os_str());
        let mut file = name.to_os_string();
        file.push(".attestation.json");
        out.join(file)
    } else {
        out.to_path_buf()
    }
}

/// Checks each clip (or the prompt alone) and prints one decision each. The status is the
/// most severe action, or ERROR if any clip could not be checked: a script must not publish
/// what was not seen.
pub fn check(cfg: Config, args: CheckArgs) -> anyhow::Result<u8> {
    let CheckArgs {
        clips,
        prompt,
        prompt_file,
        clip_id,
        policies,
        user,
        json,
        full,
        attestation_out,
        c2pa_out,
        generator,
    } = args;
    let prompt = match prompt_file {
        Some(file) => Some(read_prompt(&file)?),
        None => prompt,
    };
    let mut cfg = cfg;
    if let Some(dir) = policies {
        cfg.policies.dir = dir;
    }
    for (flag, out) in [
        ("--attestation-out", &attestation_out),
        ("--c2pa-out", &c2pa_out),
    ] {
        if let Some(out) = out {
            if clips.len() > 1 && !out.is_dir() {
                return Err(fail(
                    "usage",
                    format!(
                        "{flag} {} must be an existing folder when checking several clips",
                        out.display()
                    ),
                ));
            }
        }
    }
    let ctx = Context::open(cfg)?;
    let service = ctx.service(1, 1)?;
    let request = CheckRequest {
        prompt: prompt.clone(),
        user: user.clone(),
        clip_id,
        ..Default::default()
    };
    // Logged before it is shown: a decision anyone saw is in the log.
    let results: Vec<(Option<&Path>, anyhow::Result<Decision>)> = if clips.is_empty() {
        vec![(None, service.check_prompt(&request).map_err(Into::into))]
    } else {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        clips
            .iter()
            .map(|path| {
                let source = ClipSource::At(ClipLocation::Path(path.clone()));
                let decided = rt.block_on(service.check_clip(
                    source,
                    request.clone(),
                    Origin::Check,
                    Instant::now() + NO_DEADLINE,
                ));
                (
                    Some(path.as_path()),
                    decided.map(|c| c.decision).map_err(Into::into),
                )
            })
            .collect()
    };
    // Evidence thumbnails are made after the decisions: let them finish before exiting.
    service.shutdown();
    let several = results.len() > 1;
    let mut status = exit::OK;
    let mut failed = false;
    for (n, (clip, result)) in results.into_iter().enumerate() {
        let decision = match result {
            Ok(d) => d,
            // One clip or a prompt: its error is the command's.
            Err(e) if !several => return Err(e),
            Err(e) => {
                failed = true;
                let name = clip.map(|c| c.display().to_string()).unwrap_or_default();
                if json {
                    let body = serde_json::json!({
                        "clip": name,
                        "error": {"code": error_code(&e), "message": format!("{e:#}")},
                    });
                    println!("{body}");
                } else {
                    eprintln!("error: {name}: {e:#}");
                }
                continue;
            }
        };
        status = status.max(exit::of(decision.decision.action));
        let written = match (&attestation_out, clip, &decision.attestation) {
            (Some(out), Some(clip), Some(a)) => {
                let path = attestation_path(out, clip);
                std::fs::write(&path, serde_json::to_string_pretty(a)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                Some(path)
            }
            (Some(out), Some(clip), None) => {
                eprintln!(
                    "note: no attestation written for {} to {}: the decision is {}, and only an allowed clip gets one",
                    clip.display(),
                    out.display(),
                    decision.decision.action
                );
                None
            }
            _ => None,
        };
        let credentialed = match (&c2pa_out, clip) {
            (Some(out), Some(clip)) => {
                match credential(&service, &decision, clip, out, generator.clone()) {
                    Ok(path) => Some(path),
                    Err(e) => {
                        // A review or block already has its own exit status.
                        failed |= decision.decision.action == clipguard::vocab::Action::Allow;
                        eprintln!("error: {e:#}");
                        None
                    }
                }
            }
            _ => None,
        };
        if json {
            let clip = clip.map(|c| c.display().to_string());
            if full {
                print_decision(&decision, clip, several)?;
            } else {
                print_decision(&decision.summary(), clip, several)?;
            }
            continue;
        }
        if n > 0 {
            println!();
        }
        if let (Some(c), Some(s)) = (clip, &decision.clip) {
            print_summary(c, s, service.screener());
        }
        if let (Some(p), Some(s)) = (&prompt, &decision.prompt) {
            print_prompt(p, s, user.as_deref());
        }
        print_verdict(&decision.decision);
        println!("decision id: {}", decision.id);
        if let Some(a) = &decision.attestation {
            let to = written
                .map(|p| format!(", written to {}", p.display()))
                .unwrap_or_default();
            println!(
                "attestation: signed by key {} for clip sha256 {}{to}",
                a.key_id, a.statement.clip_sha256
            );
        }
        if let Some(path) = credentialed {
            println!("content credentials: written to {}", path.display());
        }
    }
    Ok(if failed { exit::ERROR } else { status })
}

/// A prompt from a file, or from standard input for `-`, without the line end a file's last
/// line has.
fn read_prompt(file: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the prompt from standard input")?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the prompt from {}", file.display()))?;
    }
    let trimmed = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t));
    Ok(trimmed.map(str::to_string).unwrap_or(text))
}

/// Writes an allowed clip with clipguard's Content Credentials to `out` (a file, or the
/// clip's file name in the folder `out`).
fn credential(
    service: &clipguard::service::CheckService,
    decision: &Decision,
    clip: &Path,
    out: &Path,
    generator: Option<String>,
) -> anyhow::Result<PathBuf> {
    let path = if out.is_dir() {
        out.join(clip.file_name().unwrap_or(clip.as_os_str()))
    } else {
        out.to_path_buf()
    };
    let sha = decision.clip_sha256.clone().unwrap_or_default();
    service
        .credential(&decision.id, clip, &sha, generator, &path)
        .with_context(|| format!("no Content Credentials written for {}", clip.display()))?;
    Ok(path)
}

pub fn verify(
    cfg: &Config,
    attestation: Option<&Path>,
    clip: &Path,
    key: Option<PathBuf>,
) -> anyhow::Result<()> {
    let key_path = key.unwrap_or_else(|| attest::key_paths(&cfg.data_dir).1);
    let key = attest::read_public_key(&key_path)?;
    let given = attestation
        .map(|path| -> anyhow::Result<Attestation> {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(serde_json::from_str(&text).map_err(|e| AttestError::Malformed(e.to_string()))?)
        })
        .transpose()?;
    let credentials = attest::c2pa::Credentials::load_or_create(&cfg.data_dir, &cfg.c2pa)?;
    let (a, how) = match credentials.verify_embedded(&key, clip).1? {
        Some(embedded) => {
            if given.as_ref().is_some_and(|g| *g != embedded.attestation) {
                return Err(AttestError::Credentials(
                    "the attestation given is not the one in the clip's Content Credentials".into(),
                )
                .into());
            }
            (
                embedded.attestation,
                "with clipguard's Content Credentials ",
            )
        }
        None => {
            let a = given.ok_or_else(|| {
                fail(
                    "usage",
                    format!(
                        "{} carries no Content Credentials: give its --attestation",
                        clip.display()
                    ),
                )
            })?;
            attest::verify(&key, &a, &attest::sha256_file(clip)?)?;
            (a, "")
        }
    };
    println!(
        "ok: {} is the clip {how}allowed by decision {} (policy {}, issued {})",
        clip.display(),
        a.statement.decision_id,
        &a.statement.policy_version[..12.min(a.statement.policy_version.len())],
        a.statement.issued_at
    );
    Ok(())
}

/// Runs an audit; ERROR when any clip could not be screened (the report says which), so a
/// script does not take a partial audit for a clean one.
pub fn audit(mut cfg: Config, args: AuditArgs) -> anyhow::Result<u8> {
    let AuditArgs {
        sources,
        policies,
        out,
        concurrency,
        shard,
        resume,
        force,
        compare,
    } = args;
    // An empty file holds no report to lose.
    let holds_report = std::fs::metadata(&out).is_ok_and(|m| m.len() > 0);
    if holds_report && !resume && !force {
        return Err(fail(
            "usage",
            format!(
                "the report {} exists: give --resume to continue it, --force to replace it, or another --out",
                out.display()
            ),
        ));
    }
    if let Some(dir) = policies {
        cfg.policies.dir = dir;
    }
    let ctx = Context::open(cfg)?;
    let service = ctx.service(concurrency, concurrency)?;
    let opts = clipguard::audit::AuditOptions {
        sources,
        report: clipguard::audit::ReportTo::File(out.clone()),
        concurrency,
        shard,
        resume,
        compare,
        max_file_bytes: ctx.cfg.media.max_file_bytes,
        confinement: if ctx.cfg.server.file_roots.is_empty() {
            clipguard::audit::Confinement::Named
        } else {
            clipguard::audit::Confinement::Roots(clipguard::objects::Roots::new(
                &ctx.cfg.server.file_roots,
            ))
        },
    };
    let progress = progress::AuditProgress::new();
    let summary = clipguard::audit::run(&service, &opts, &progress)?;
    progress.finish();
    progress::print_summary(&summary, &out);
    Ok(if summary.errors > 0 {
        exit::ERROR
    } else {
        exit::OK
    })
}

pub fn decisions(cfg: Config, cmd: DecisionsCommand) -> anyhow::Result<()> {
    let ctx = Context::open(cfg)?;
    let (action, user, clip, clip_id, since, until, origin, limit, json, full) = match cmd {
        DecisionsCommand::Show { id } => {
            match ctx.decisions().get(&id)? {
                Some(d) => println!("{}", serde_json::to_string_pretty(&d)?),
                None => return Err(fail("not_found", format!("no decision with id {id}"))),
            }
            return Ok(());
        }
        DecisionsCommand::List {
            action,
            user,
            clip,
            clip_id,
            since,
            until,
            origin,
            limit,
            json,
            full,
        } => (
            action, user, clip, clip_id, since, until, origin, limit, json, full,
        ),
    };
    let query = DecisionQuery {
        action,
        user,
        clip_sha256: clip,
        clip_id,
        since,
        until,
        origin,
        limit,
        ..Default::default()
    };
    let list = ctx.decisions().list(&query)?;
    if json {
        if full {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            let summaries: Vec<_> = list.iter().map(Decision::summary).collect();
            println!("{}", serde_json::to_string_pretty(&summaries)?);
        }
        return Ok(());
    }
    for d in list {
        let rules: Vec<&str> = d.decision.matched.iter().map(|m| m.rule.as_str()).collect();
        println!(
            "{}  {}  {:<6}  user {:<10} clip {}  {}",
            d.id,
            d.created_at,
            d.decision.action.as_str(),
            d.user.as_deref().unwrap_or("-"),
            d.clip_sha256.as_deref().map(|c| &c[..12]).unwrap_or("-"),
            rules.join(",")
        );
    }
    Ok(())
}

/// The review queue, and reviews made from the command line: the same service call as
/// `POST /v1/reviews/{id}` (an approval of a clip signs its attestation, so the service is
/// opened with its models, as `check` does).
pub fn reviews(cfg: Config, cmd: ReviewsCommand) -> anyhow::Result<()> {
    let ctx = Context::open(cfg)?;
    let (id, outcome, note, reviewer) = match cmd {
        ReviewsCommand::List { limit, json } => {
            let queue = ctx.decisions().review_queue(limit)?;
            if json {
                let summaries: Vec<_> = queue.iter().map(Decision::summary).collect();
                println!("{}", serde_json::to_string_pretty(&summaries)?);
                return Ok(());
            }
            for d in queue {
                let rules: Vec<&str> = d.decision.matched.iter().map(|m| m.rule.as_str()).collect();
                println!(
                    "{}  {}  user {:<10} clip {}  {}",
                    d.id,
                    d.created_at,
                    d.user.as_deref().unwrap_or("-"),
                    d.clip_id
                        .as_deref()
                        .or(d.clip_sha256.as_deref().map(|c| &c[..12]))
                        .unwrap_or("-"),
                    rules.join(",")
                );
            }
            return Ok(());
        }
        ReviewsCommand::Approve { id, note, reviewer } => {
            (id, clipguard::vocab::ReviewOutcome::Approve, note, reviewer)
        }
        ReviewsCommand::Reject { id, note, reviewer } => {
            (id, clipguard::vocab::ReviewOutcome::Reject, note, reviewer)
        }
    };
    let service = ctx.service(1, 1)?;
    let review = service.review(&id, outcome, note, reviewer)?;
    println!("{}", serde_json::to_string_pretty(&review)?);
    Ok(())
}

/// Verifies the model files against the manifest (no model is loaded into ONNX Runtime).
pub fn models(cfg: &Config) -> anyhow::Result<()> {
    let manifest = clipguard::vision::Manifest::load(&cfg.models.manifest, &cfg.models.dir)
        .context("loading models")?;
    for m in manifest.models() {
        println!(
            "{:<16} {:<7} {}  {}",
            m.name,
            m.kind.as_str(),
            m.sha256,
            m.source
        );
    }
    Ok(())
}

pub fn categories(cfg: Config, cmd: CategoriesCommand) -> anyhow::Result<()> {
    let ctx = Context::open(cfg)?;
    let categories = ctx.categories();
    match cmd {
        CategoriesCommand::Create {
            name,
            examples,
            counter_examples,
            description,
        } => {
            fn paths(v: &[PathBuf]) -> Vec<&Path> {
                v.iter().map(PathBuf::as_path).collect()
            }
            let who = std::env::var("USER").unwrap_or_else(|_| "cli".into());
            let c = ctx.service(1, 1)?.create_category(
                &name,
                &description,
                &who,
                &paths(&examples),
                &paths(&counter_examples),
            )?;
            println!(
                "created category {} with {} example(s) and {} counter-example(s)",
                c.name, c.examples, c.counter_examples
            );
        }
        CategoriesCommand::List { json } => {
            let list = categories.list()?;
            // The version needs the encoder's sha256 from the manifest, not the model itself.
            let manifest =
                clipguard::vision::Manifest::load(&ctx.cfg.models.manifest, &ctx.cfg.models.dir)?;
            let encoder = manifest
                .image_encoder()
                .map(|(m, _)| m.sha256.clone())
                .unwrap_or_default();
            let version = categories.snapshot(&encoder)?.0.version;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"version": version, "categories": list})
                );
            } else if list.is_empty() {
                println!("no categories defined");
            } else {
                println!("category set version {version}");
                for c in list {
                    println!(
                        "{:<24} {:>3} example(s) {:>3} counter-example(s)  {}",
                        c.name, c.examples, c.counter_examples, c.description
                    );
                }
            }
        }
        CategoriesCommand::Show { name } => {
            println!("{}", serde_json::to_string_pretty(&categories.get(&name)?)?)
        }
        CategoriesCommand::Delete { name } => {
            categories.delete(&name)?;
            println!("deleted category {name}");
        }
    }
    Ok(())
}

pub fn text_categories(cfg: Config, cmd: TextCategoriesCommand) -> anyhow::Result<()> {
    let categories = Context::open(cfg)?.text_categories()?;
    match cmd {
        TextCategoriesCommand::Create {
            name,
            severity,
            examples,
            counter_examples,
            all_of,
            threshold,
            description,
        } => {
            let who = std::env::var("USER").unwrap_or_else(|_| "cli".into());
            let c = categories.create(
                &clipguard::meaning::TextCategoryDef {
                    name,
                    severity,
                    description,
                    examples,
                    counter_examples,
                    all_of,
                    threshold,
                },
                &who,
            )?;
            println!(
                "created text category {} (severity {}) with {} example(s) and {} \
                 counter-example(s): the next check uses it",
                c.name,
                c.severity,
                c.examples.len(),
                c.counter_examples.len()
            );
        }
        TextCategoriesCommand::List { json } => {
            let list = categories.list()?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                println!("text category set version {}", list.version);
                for c in list.categories {
                    let made = match c.all_of.is_empty() {
                        true => format!(
                            "{:>3} example(s) {:>3} counter-example(s)",
                            c.examples.len(),
                            c.counter_examples.len()
                        ),
                        false => format!("all of {}", c.all_of.join(", ")),
                    };
                    println!(
                        "{:<20} severity {} {:<7} {made}  {}",
                        c.name,
                        c.severity,
                        serde_json::to_value(c.source)?.as_str().unwrap_or_default(),
                        c.description
                    );
                }
            }
        }
        TextCategoriesCommand::Show { name } => {
            println!("{}", serde_json::to_string_pretty(&categories.get(&name)?)?)
        }
        TextCategoriesCommand::Delete { name } => {
            categories.delete(&name)?;
            println!("deleted text category {name}");
        }
    }
    Ok(())
}

pub fn persons(cfg: Config, cmd: PersonsCommand) -> anyhow::Result<()> {
    let ctx = Context::open(cfg)?;
    let reg = ctx.registry();
    match cmd {
        PersonsCommand::Add {
            name,
            aliases,
            kind,
            allowed_users,
            always_match,
            images,
        } => {
            let person = NewPerson {
                name,
                aliases,
                kind,
                allowed_users,
                always_match,
            };
            for w in reg.name_warnings(&person)? {
                eprintln!("warning: {:?}: {}", w.name, w.message);
            }
            let paths: Vec<&Path> = images.iter().map(PathBuf::as_path).collect();
            let id = if paths.is_empty() {
                reg.add(&person)?
            } else {
                ctx.service(1, 1)?.add_person(&person, &paths)?
            };
            println!(
                "added person {id} ({}) with {} face(s)",
                person.name,
                paths.len()
            );
        }
        PersonsCommand::Enrol { id, images } => {
            let paths: Vec<&Path> = images.iter().map(PathBuf::as_path).collect();
            let faces = ctx.service(1, 1)?.enrol(id, &paths)?;
            println!("enrolled {} face(s) for person {id}", faces.len());
        }
        PersonsCommand::Voices {
            cmd: VoicesCommand::Add { id, files },
        } => {
            let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            let voices = ctx.service(1, 1)?.enrol_voices(id, &paths)?;
            println!("enrolled {} voice sample(s) for person {id}", voices.len());
        }
        PersonsCommand::List { json: true } => {
            let list: Vec<serde_json::Value> = reg
                .list()?
                .into_iter()
                .map(|(p, aliases, faces)| {
                    serde_json::json!({
                        "id": p.id,
                        "name": p.name,
                        "kind": p.kind,
                        "allowed_users": p.allowed_users,
                        "aliases": aliases,
                        "faces": faces,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        PersonsCommand::List { json: false } => {
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
            let started = Instant::now();
            let n = reg.import(&file.display().to_string(), std::io::BufReader::new(f))?;
            println!(
                "imported {n} persons in {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

pub fn banks(cfg: Config, cmd: BanksCommand) -> anyhow::Result<()> {
    let ctx = Context::open(cfg)?;
    let banks = ctx.banks();
    match cmd {
        BanksCommand::Create {
            name,
            source,
            action,
        } => {
            let b = banks.create(&NewBank {
                name,
                source,
                action,
            })?;
            println!(
                "created bank {} ({}, {})",
                b.name,
                b.source,
                b.action.as_str()
            );
        }
        BanksCommand::List { json: true } => {
            println!("{}", serde_json::to_string_pretty(&banks.list()?)?)
        }
        BanksCommand::List { json: false } => {
            for b in banks.list()? {
                println!(
                    "{:<24} {:<7} {:>9} hashes {:>7} items  {}",
                    b.name,
                    b.action.as_str(),
                    b.hashes,
                    b.items,
                    b.source
                );
            }
        }
        BanksCommand::Import { name, file } => {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let started = Instant::now();
            let added = banks
                .import(&name, std::io::BufReader::new(f))
                .with_context(|| format!("importing {}", file.display()))?;
            println!(
                "read {} hashes, {} new to bank {} ({:.2} s)",
                added.read,
                added.added,
                added.bank,
                started.elapsed().as_secs_f64()
            );
        }
        BanksCommand::AddDecision { name, decision } => {
            let added = banks.add_decision(&name, &decision)?;
            println!(
                "added {} of the {} frame hashes of decision {decision} to bank {}",
                added.added, added.read, added.bank
            );
        }
        BanksCommand::Remove { name } => {
            banks.remove(&name)?;
            println!("removed bank {name}");
        }
    }
    Ok(())
}

pub fn policy_test(cfg: &Config, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let policy = Policy::from_config(&cfg.policies, &clipguard::analysers::schema())?;
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
        return Err(fail(
            "no_fixtures",
            format!("no policy fixtures in {}", dir.display()),
        ));
    }
    if failed > 0 {
        return Err(fail(
            "fixtures_failed",
            format!("{failed} of {} policy fixtures failed", outcomes.len()),
        ));
    }
    Ok(())
}

/// Evaluates saved signals rule by rule: a policy input, or a logged decision (`check --json
/// --full`, `decisions show`), whose user and declared consents are used as they were.
pub fn policy_explain(cfg: &Config, signals: &Path, user: Option<String>) -> anyhow::Result<()> {
    let policy = Policy::from_config(&cfg.policies, &clipguard::analysers::schema())?;
    let text = std::fs::read_to_string(signals)
        .with_context(|| format!("reading {}", signals.display()))?;
    let mut input: PolicyInput = match serde_json::from_str::<PolicyInput>(&text) {
        Ok(i) => i,
        Err(_) => {
            let decision: Decision = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: neither a full decision (`check --json --full`, `decisions show`) nor a policy input",
                    signals.display()
                )
            })?;
            PolicyInput::for_decision(&decision)
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
    // The scores rules threshold that no detection list shows: classifier labels and
    // categories defined by example, at their peaks.
    for (name, labels) in &clipguard::analysers::classifier_peaks(&input.signals.sections) {
        for (label, p) in labels {
            println!(
                "  classifier {name}.{label}: {:.3} at {:.2} s (frame {})",
                p.max_score, p.time_s, p.frame
            );
        }
    }
    for (name, c) in &clipguard::analysers::category_peaks(&input.signals.sections) {
        println!(
            "  category {name}: similarity {:.3} (counter-examples {:.3}) at {:.2} s (frame {}), {} frame(s)",
            c.score, c.counter_score, c.time_s, c.frame, c.frames
        );
    }
    for (rule, outcome) in policy.rules.iter().zip(policy.explain(&input)) {
        let mode = if rule.mode == Mode::Shadow {
            " [shadow]"
        } else {
            ""
        };
        match outcome {
            RuleOutcome::Matched(m) => {
                println!("  MATCH  {}{mode} -> {}: {}", rule.id, m.action, m.message)
            }
            RuleOutcome::NotMatched => println!("  -      {}{mode}", rule.id),
            RuleOutcome::Failed(e) => println!("  ERROR  {}{mode}: {e}", rule.id),
        }
    }
    print_verdict(&policy.decide(&input));
    Ok(())
}

fn print_verdict(v: &Verdict) {
    println!(
        "decision: {} (policy {} {})",
        v.action,
        v.policy.name,
        &v.policy.version[..12]
    );
    for m in &v.matched {
        println!("  {} by {}: {}", m.action, m.rule, m.message);
    }
    for m in &v.shadow {
        println!("  shadow {}: would {}: {}", m.rule, m.action, m.message);
    }
    for f in &v.failures {
        println!("  rule {} failed (fail closed): {}", f.rule, f.error);
    }
}

fn print_prompt(prompt: &str, s: &PromptSignals, user: Option<&str>) {
    println!("prompt: {prompt:?}");
    if s.persons.is_empty() {
        println!("  no registered person named");
    }
    for m in &s.persons {
        println!(
            "  person {} ({}, {}): {:?} at bytes {}..{} matches {:?} ({}, score {} for {}, {}); {}",
            m.person_id,
            m.name,
            m.kind.as_str(),
            m.text,
            m.start,
            m.end,
            m.alias,
            m.strength.as_str(),
            m.score,
            m.reasons.join(" "),
            if m.exact {
                "as written"
            } else {
                "after normalisation"
            },
            Consent::of(&m.allowed_users, user).describe()
        );
    }
    for t in &s.terms {
        println!(
            "  term [{}] {:?} at bytes {}..{} ({:?})",
            t.category, t.term, t.start, t.end, t.text
        );
    }
    for (name, m) in &s.meaning {
        println!(
            "  meaning {name} (severity {}): {:?} at bytes {}..{}, score {:.3}, like {:?}",
            m.severity.level(),
            m.text,
            m.start,
            m.end,
            m.score,
            m.example
        );
    }
}

fn print_summary(clip: &Path, s: &Signals, screener: &Screener) {
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
    for line in screener.summary(s) {
        println!("{line}");
    }
    println!("sampled frames:");
    for fr in &s.frames {
        let reasons: Vec<&str> = fr.reasons.iter().map(|r| r.as_str()).collect();
        println!(
            "  {:>7.2} s  {:<26} {}{}",
            fr.time_s,
            reasons.join(","),
            screener.frame_summary(fr).join("  "),
            fr.duplicate_of
                .map(|i| format!("  (same as frame {i})"))
                .unwrap_or_default()
        );
    }
    let stages: Vec<String> = s
        .timings
        .all()
        .iter()
        .map(|(stage, ms)| format!("{stage} {ms:.0}"))
        .collect();
    println!(
        "timings (ms): {}, total {:.0}",
        stages.join(", "),
        s.timings.total_ms
    );
    let models: Vec<String> = s
        .models
        .iter()
        .map(|m| format!("{} {}", m.name, &m.sha256[..12]))
        .collect();
    println!("models: {}", models.join(", "));
}
