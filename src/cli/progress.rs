//! (CLI only) An audit's progress on the terminal: a bar with rate and ETA when stderr is a
//! terminal, plain periodic lines otherwise (logs, CI, Kubernetes).

use clipguard::audit::{Line, Observer, Summary};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct AuditProgress {
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

struct Plain {
    started: Instant,
    last: Instant,
    total: u64,
    resumed: u64,
}

/// How often plain progress lines are printed.
const EVERY: Duration = Duration::from_secs(10);

impl AuditProgress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} clips  {elapsed} elapsed, ETA {eta}  {msg}",
                )
                .expect("a valid template"),
            );
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            plain: Mutex::new(Plain {
                started: now,
                last: now,
                total: 0,
                resumed: 0,
            }),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn counts(s: &Summary) -> String {
    let n = |a| s.by_action.get(&a).copied().unwrap_or(0);
    use clipguard::vocab::Action;
    format!(
        "allow {} review {} block {} errors {}",
        n(Action::Allow),
        n(Action::Review),
        n(Action::Block),
        s.errors
    )
}

impl Observer for AuditProgress {
    fn started(&self, total: u64, resumed: u64) {
        let mut p = self.plain.lock().unwrap_or_else(|e| e.into_inner());
        p.total = total;
        p.resumed = resumed;
        match &self.bar {
            Some(b) => {
                b.set_length(total);
                b.set_position(resumed);
                b.reset_eta();
            }
            None => eprintln!("audit: {total} clips ({resumed} already in the report)"),
        }
    }

    fn clip(&self, _line: &Line, summary: &Summary) {
        let mut p = self.plain.lock().unwrap_or_else(|e| e.into_inner());
        let done_now = summary.clips - p.resumed;
        let per_min = done_now as f64 * 60.0 / p.started.elapsed().as_secs_f64().max(1e-3);
        if let Some(b) = &self.bar {
            b.set_position(summary.clips);
            b.set_message(format!("{per_min:.1} clips/min  {}", counts(summary)));
            return;
        }
        if p.last.elapsed() < EVERY && summary.clips < p.total {
            return;
        }
        p.last = Instant::now();
        let eta = (p.total - summary.clips) as f64 * 60.0 / per_min.max(1e-9);
        eprintln!(
            "audit: {}/{} clips, {per_min:.1} clips/min, ETA {}, {}",
            summary.clips,
            p.total,
            humantime::format_duration(Duration::from_secs(eta.round() as u64)),
            counts(summary)
        );
    }
}

pub fn print_summary(s: &Summary, report: &Path) {
    // A rate over less than a second (clips resumed, or answered from the cache) says
    // nothing: 3 clips in 2 ms is not 90,000 a minute.
    let rate = if s.seconds >= 1.0 {
        format!("{:.1} clips/min", s.clips_per_minute)
    } else {
        "under a second".to_string()
    };
    eprintln!(
        "audit done: {} clips in {:.1} s ({rate}{}): {}",
        s.clips,
        s.seconds,
        if s.resumed > 0 {
            format!(", {} resumed from the report", s.resumed)
        } else {
            String::new()
        },
        counts(s)
    );
    for (rule, n) in &s.by_rule {
        eprintln!("  rule {rule}: {n}");
    }
    for (rule, n) in &s.by_shadow_rule {
        eprintln!("  shadow rule {rule}: {n}");
    }
    for (code, n) in &s.errors_by_code {
        eprintln!("  error {code}: {n}");
    }
    if !s.changes.is_empty() || s.no_previous > 0 {
        eprintln!(
            "  changed: {} ({}), no previous decision: {}",
            s.changed,
            s.changes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            s.no_previous
        );
    }
    eprintln!("report: {}", report.display());
}
