//! Custom term lists per category (`policies/lists/<category>.txt`, one term per line, `#`
//! comments), matched in prompts with the same normaliser as person names.

use super::{Matcher, MatcherError, Normalized, PhraseSet};
use crate::vocab::TermMatch;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TermsError {
    #[error("cannot read term list {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(transparent)]
    Matcher(#[from] MatcherError),
}

#[derive(Debug, Clone)]
struct Term {
    category: String,
    term: String,
}

pub struct TermLists {
    matcher: Matcher<Term>,
}

impl TermLists {
    /// Every `*.txt` in `dir` (a missing folder means no lists).
    pub fn load(dir: &Path) -> Result<Self, TermsError> {
        let mut set = PhraseSet::default();
        let read_err = |path: &Path, e: std::io::Error| TermsError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if dir.exists() {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| read_err(dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "txt"))
                .collect();
            files.sort();
            for path in files {
                let category = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
                for line in text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    set.add(
                        line,
                        Term {
                            category: category.clone(),
                            term: line.to_string(),
                        },
                    );
                }
            }
        }
        Ok(Self {
            matcher: set.build()?,
        })
    }

    pub fn find(&self, prompt: &str, normalized: &Normalized) -> Vec<TermMatch> {
        self.matcher
            .find(normalized)
            .into_iter()
            .flat_map(|f| {
                f.payloads.iter().map(move |t| TermMatch {
                    category: t.category.clone(),
                    term: t.term.clone(),
                    start: f.original.start,
                    end: f.original.end,
                    text: prompt[f.original.clone()].to_string(),
                })
            })
            .collect()
    }
}
