//! A mutation fuzzer for clipguard's media path and policy loader that runs on stable Rust.
//!
//! cargo-fuzz needs a nightly toolchain, and the decoders that matter most are Debian's FFmpeg
//! libraries, which no Rust-side instrumentation sees. So this runs inputs in a worker process
//! (a crash, an abort on a failed allocation, or a hang costs one worker, not the run),
//! mutates seeds with format-aware edits (MP4 boxes and their fields, YAML and CEL tokens) as
//! well as byte-level ones, and keeps a mutant as a new seed when it reaches an outcome not seen
//! before (an error message or coverage problem), a cheap stand-in for coverage feedback.
//! Every crash or hang is written to the output folder to be kept under fuzz/regressions.

mod mutate;
mod targets;

use clap::{Parser, Subcommand, ValueEnum};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Mutates the seeds and runs each mutant in a worker process.
    Run {
        target: Target,
        /// Folder of seed inputs.
        #[arg(long)]
        seeds: PathBuf,
        /// Where crashes/, hangs/ and stats go.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 60.0)]
        minutes: f64,
        /// An input that takes longer than this is a hang.
        #[arg(long, default_value_t = 10)]
        timeout_s: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Internal: runs inputs named on stdin, one outcome line per input on stdout.
    Worker { target: Target },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Media,
    Policy,
}

/// Address space for a worker: far above what a clip within the limits needs, so exceeding
/// it means an allocation the limits should have prevented.
const WORKER_MEMORY: u64 = 4 << 30;

fn main() {
    match Args::parse().command {
        Cmd::Worker { target } => worker(target),
        Cmd::Run {
            target,
            seeds,
            out,
            minutes,
            timeout_s,
            seed,
        } => {
            if let Err(e) = run(
                target,
                &seeds,
                &out,
                Duration::from_secs_f64(minutes * 60.0),
                Duration::from_secs(timeout_s),
                seed,
            ) {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }
}

fn worker(target: Target) {
    let limit = libc::rlimit {
        rlim_cur: WORKER_MEMORY,
        rlim_max: WORKER_MEMORY,
    };
    // SAFETY: setrlimit reads the struct it is given and nothing else.
    unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    let dir = tempfile::tempdir().expect("temp folder");
    let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/lists");
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let input = std::fs::read(line.expect("stdin is readable")).expect("input is readable");
        let outcome = std::panic::catch_unwind(|| match target {
            Target::Media => targets::media(&input, dir.path()),
            Target::Policy => targets::policy(&input, dir.path(), &lists),
        });
        let line = match outcome {
            Ok(o) => o.replace('\n', " "),
            Err(_) => "PANIC".into(),
        };
        writeln!(stdout.lock(), "{line}").expect("stdout is writable");
    }
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    fn start(target: Target) -> std::io::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("worker")
            .arg(match target {
                Target::Media => "media",
                Target::Policy => "policy",
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            lines,
        })
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        }
    }
}

enum Verdict {
    Fine(String),
    Crash(String),
    Hang,
}

fn run(
    target: Target,
    seeds_dir: &Path,
    out: &Path,
    length: Duration,
    timeout: Duration,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut queue: Vec<Vec<u8>> = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(seeds_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for n in &names {
        queue.push(std::fs::read(n)?);
    }
    if queue.is_empty() {
        return Err(std::io::Error::other("no seeds"));
    }
    for d in ["crashes", "hangs"] {
        std::fs::create_dir_all(out.join(d))?;
    }
    let current = out.join("current");
    let mut worker = Worker::start(target)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let (mut execs, mut crashes, mut hangs) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut log = std::fs::File::create(out.join("stats.log"))?;
    // The seeds first, unmutated, so their outcomes are known.
    let mut pending: Vec<Vec<u8>> = queue.clone();
    while started.elapsed() < length {
        let input = pending.pop().unwrap_or_else(|| {
            let base = &queue[rng.usize(..queue.len())];
            let other = &queue[rng.usize(..queue.len())];
            match target {
                Target::Media => mutate::media(&mut rng, base, other),
                Target::Policy => mutate::policy(&mut rng, base, other),
            }
        });
        std::fs::write(&current, &input)?;
        writeln!(worker.stdin, "{}", current.display())?;
        let verdict = match worker.lines.recv_timeout(timeout) {
            Ok(line) if line == "PANIC" => Verdict::Crash("panic".into()),
            Ok(line) => Verdict::Fine(line),
            Err(mpsc::RecvTimeoutError::Timeout) => Verdict::Hang,
            Err(mpsc::RecvTimeoutError::Disconnected) => Verdict::Crash(String::new()),
        };
        execs += 1;
        match verdict {
            Verdict::Fine(outcome) => {
                let key = novelty_key(&outcome);
                let n = seen.entry(key).or_insert(0);
                *n += 1;
                if *n == 1 && queue.len() < 2000 {
                    queue.push(input);
                }
            }
            Verdict::Crash(why) => {
                crashes += 1;
                let status = std::mem::replace(&mut worker, Worker::start(target)?).stop();
                let name = format!("crash-{execs}-{}", hex_digest(&input));
                std::fs::write(out.join("crashes").join(&name), &input)?;
                writeln!(log, "CRASH {name}: {why} {status}")?;
            }
            Verdict::Hang => {
                hangs += 1;
                std::mem::replace(&mut worker, Worker::start(target)?).stop();
                let name = format!("hang-{execs}-{}", hex_digest(&input));
                std::fs::write(out.join("hangs").join(&name), &input)?;
                writeln!(log, "HANG {name}")?;
            }
        }
        if last_report.elapsed() > Duration::from_secs(60) || started.elapsed() >= length {
            last_report = Instant::now();
            let s = started.elapsed().as_secs_f64();
            writeln!(
                log,
                "{:.0} s: {execs} execs ({:.1}/s), {} distinct outcomes, queue {}, {crashes} crashes, {hangs} hangs",
                s,
                execs as f64 / s,
                seen.len(),
                queue.len()
            )?;
        }
    }
    worker.stop();
    let mut outcomes: Vec<_> = seen.into_iter().collect();
    outcomes.sort_by(|a, b| b.1.cmp(&a.1));
    let mut f = std::fs::File::create(out.join("outcomes.txt"))?;
    for (k, n) in outcomes {
        writeln!(f, "{n}\t{k}")?;
    }
    Ok(())
}

/// An outcome with its numbers blanked, so "frame 12" and "frame 13" count as one.
fn novelty_key(outcome: &str) -> String {
    outcome
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// A short name for an input: FNV-1a of its bytes.
fn hex_digest(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!("{h:016x}")
}
