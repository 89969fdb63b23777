//! The `clipguard` command line: serve the API, or screen a clip from the shell.

use anyhow::Context;
use clap::{Parser, Subcommand};
use clipguard::{Config, Screener, Signals};
use std::path::PathBuf;
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
    /// Screen one clip and print what was found.
    Check {
        clip: PathBuf,
        /// Print the full Signals as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify the model files against the manifest and list them.
    Models,
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
            let screener = Arc::new(Screener::load(&cfg).context("loading models")?);
            actix_web::rt::System::new()
                .block_on(clipguard::http::serve(&cfg.server.bind, screener))
                .with_context(|| format!("serving on {}", cfg.server.bind))
        }
        Command::Check { clip, json } => {
            let screener = Screener::load(&cfg).context("loading models")?;
            let signals = screener.screen_clip(&clip)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&signals)?);
            } else {
                print_summary(&clip, &signals);
            }
            Ok(())
        }
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

fn print_summary(clip: &std::path::Path, s: &Signals) {
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
    if s.nudity.is_empty() {
        println!("nudity: no class detected");
    } else {
        println!("nudity (highest score per class):");
        for (class, peak) in &s.nudity {
            println!(
                "  {:<26} {:.3} at {:>6.2} s  ({} frames)",
                class.label(),
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
            .map(|d| format!("{} {:.2}", d.class.label(), d.score))
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
