//! The audit report: one JSON line per clip, and a closing summary as the last line. Each line
//! is written whole and flushed, so after a kill -9 the report holds every finished clip and at
//! most one partial line, which `--resume` cuts off before it carries on.

use super::AuditError;
use crate::vocab::Action;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Write};
use std::path::Path;

/// What the audit found for one clip: a decision or an error, never both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Line {
    /// The clip's key: absolute path or `s3://` URI.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Enforced rules that matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Shadow rules that matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<LineError>,
    /// With `--compare`: the last decision logged for these bytes before the audit began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// With `--compare`: whether the action differs from the previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Previous {
    pub decision_id: String,
    pub action: Action,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    pub clips: u64,
    pub by_action: BTreeMap<Action, u64>,
    pub by_rule: BTreeMap<String, u64>,
    pub by_shadow_rule: BTreeMap<String, u64>,
    pub errors: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    /// With `--compare`: clips whose action changed, and how (e.g. "allow->block").
    pub changed: u64,
    pub changes: BTreeMap<String, u64>,
    /// Clips without a previous decision to compare with.
    pub no_previous: u64,
    /// Clips already in the report when this run resumed it.
    pub resumed: u64,
    pub seconds: f64,
    pub clips_per_minute: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// The last line of a report.
#[derive(Serialize, Deserialize)]
struct SummaryLine {
    summary: Summary,
}

impl Summary {
    pub fn add(&mut self, line: &Line) {
        self.clips += 1;
        if let Some(a) = line.action {
            *self.by_action.entry(a).or_default() += 1;
        }
        for r in &line.rules {
            *self.by_rule.entry(r.clone()).or_default() += 1;
        }
        for r in &line.shadow {
            *self.by_shadow_rule.entry(r.clone()).or_default() += 1;
        }
        if let Some(e) = &line.error {
            self.errors += 1;
            *self.errors_by_code.entry(e.code.clone()).or_default() += 1;
        }
        match (&line.previous, line.action, line.changed) {
            (Some(p), Some(now), Some(true)) => {
                self.changed += 1;
                let how = format!("{}->{}", p.action.as_str(), now.as_str());
                *self.changes.entry(how).or_default() += 1;
            }
            (None, Some(_), _) if line.changed.is_some() => self.no_previous += 1,
            _ => {}
        }
    }
}

/// Where report lines go as clips finish.
pub trait Sink: Send {
    fn line(&mut self, line: &Line) -> Result<(), AuditError>;
    fn summary(&mut self, summary: &Summary) -> Result<(), AuditError>;
}

/// A summary as the report's last line.
pub fn summary_line(summary: &Summary) -> String {
    serde_json::to_string(&SummaryLine {
        summary: summary.clone(),
    })
    .expect("a summary serialises")
}

/// The report of a service job, in the store: a line per clip, once, written only while this
/// replica holds the job.
pub struct JobSink {
    store: std::sync::Arc<crate::store::Store>,
    id: String,
    owner: String,
}

impl JobSink {
    pub fn new(store: std::sync::Arc<crate::store::Store>, id: &str, owner: &str) -> Self {
        Self {
            store,
            id: id.to_string(),
            owner: owner.to_string(),
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> AuditError {
        AuditError::Report {
            path: format!("audit {}", self.id),
            reason: e.to_string(),
        }
    }

    /// The lines recorded so far (by this replica or one before it).
    pub fn lines(&self) -> Result<Vec<Line>, AuditError> {
        self.store
            .audit_lines(&self.id)
            .map_err(|e| self.error(e))?
            .iter()
            .map(|l| serde_json::from_str(l).map_err(|e| self.error(e)))
            .collect()
    }
}

impl Sink for JobSink {
    fn line(&mut self, line: &Line) -> Result<(), AuditError> {
        let text = serde_json::to_string(line).expect("a report line serialises");
        self.store
            .record_audit_line(&self.id, &self.owner, &line.key, &text)
            .map_err(|e| self.error(e))
    }

    fn summary(&mut self, summary: &Summary) -> Result<(), AuditError> {
        let text = serde_json::to_string(summary).expect("a summary serialises");
        self.store
            .finish_audit(&self.id, &self.owner, Some(&text), None)
            .map_err(|e| self.error(e))
    }
}

/// Appends lines to the report, one whole line per write.
pub struct Writer {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl Writer {
    /// A new report (an existing one is replaced).
    pub fn create(path: &Path) -> Result<Self, AuditError> {
        let file = std::fs::File::create(path).map_err(|e| AuditError::report(path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }
}

impl Sink for Writer {
    fn line(&mut self, line: &Line) -> Result<(), AuditError> {
        let mut text = serde_json::to_vec(line).expect("a report line serialises");
        text.push(b'\n');
        self.file
            .write_all(&text)
            .and_then(|_| self.file.flush())
            .map_err(|e| AuditError::report(&self.path, e))
    }

    fn summary(&mut self, summary: &Summary) -> Result<(), AuditError> {
        let mut text = summary_line(summary).into_bytes();
        text.push(b'\n');
        self.file
            .write_all(&text)
            .and_then(|_| self.file.sync_all())
            .map_err(|e| AuditError::report(&self.path, e))
    }
}

/// Opens a report to resume: keeps its complete clip lines (cutting off a partial last line and
/// an old summary) and returns them, with the writer positioned after them.
pub fn resume(path: &Path) -> Result<(Writer, Vec<Line>), AuditError> {
    let err = |e| AuditError::report(path, e);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Writer::create(path)?, Vec::new()))
        }
        Err(e) => return Err(err(e)),
    };
    let mut reader = std::io::BufReader::new(file);
    let (mut lines, mut keep) = (Vec::new(), 0u64);
    let mut buf = String::new();
    loop {
        buf.clear();
        let n = reader.read_line(&mut buf).map_err(err)?;
        if n == 0 || !buf.ends_with('\n') {
            break; // the end, or a line cut off by a kill
        }
        if let Ok(line) = serde_json::from_str::<Line>(&buf) {
            lines.push(line);
            keep += n as u64;
        } else if serde_json::from_str::<SummaryLine>(&buf).is_ok() {
            break; // a finished report's summary: rewritten at the end of this run
        } else {
            return Err(AuditError::Report {
                path: path.display().to_string(),
                reason: format!(
                    "line {} is not a report line: {:?}",
                    lines.len() + 1,
                    buf.trim()
                ),
            });
        }
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(err)?;
    file.set_len(keep).map_err(err)?;
    let mut file = file;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(err)?;
    Ok((
        Writer {
            file,
            path: path.to_path_buf(),
        },
        lines,
    ))
}

/// Keys already in a report.
pub fn keys(lines: &[Line]) -> HashSet<String> {
    lines.iter().map(|l| l.key.clone()).collect()
}

/// The summary line of a finished report, if it has one.
pub fn read_summary(path: &Path) -> Option<Summary> {
    let text = std::fs::read_to_string(path).ok()?;
    let last = text.lines().last()?;
    serde_json::from_str::<SummaryLine>(last)
        .ok()
        .map(|s| s.summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(key: &str, action: Action) -> Line {
        Line {
            key: key.into(),
            sha256: Some("ab".into()),
            decision_id: Some("d".into()),
            action: Some(action),
            rules: vec![],
            shadow: vec![],
            error: None,
            previous: None,
            changed: None,
        }
    }

    #[test]
    fn resume_keeps_whole_lines_and_drops_a_partial_one_and_the_summary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut w = Writer::create(&path).unwrap();
        w.line(&line("a", Action::Allow)).unwrap();
        w.line(&line("b", Action::Block)).unwrap();
        w.summary(&Summary::default()).unwrap();
        drop(w);
        let (_, lines) = resume(&path).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(read_summary(&path).is_none(), "the old summary is cut");

        // A kill in the middle of a line.
        let mut text = std::fs::read(&path).unwrap();
        text.extend_from_slice(b"{\"key\":\"c\",\"sha2");
        std::fs::write(&path, text).unwrap();
        let (mut w, lines) = resume(&path).unwrap();
        assert_eq!(keys(&lines), ["a", "b"].map(String::from).into());
        w.line(&line("c", Action::Review)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text
            .lines()
            .all(|l| serde_json::from_str::<Line>(l).is_ok()));
    }
}
