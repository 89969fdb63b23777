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

/// The term lists' files as read once: (file name, bytes), sorted by name. The policy version
/// hashes exactly these bytes and the matcher is built from them, so a version always names
/// the lists that were used.
#[derive(Debug, Clone, Default)]
pub struct ListFiles(Vec<(String, Vec<u8>)>);

impl ListFiles {
    /// Every `*.txt` in `dir` (a missing folder means no lists).
    pub fn read(dir: &Path) -> Result<Self, TermsError> {
        let read_err = |path: &Path, e: std::io::Error| TermsError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if !dir.exists() {
            return Ok(Self::default());
        }
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| read_err(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                std::fs::read(&path)
                    .map(|bytes| (name, bytes))
                    .map_err(|e| read_err(&path, e))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// (file name, bytes) of each list, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, b)| (n.as_str(), b.as_slice()))
    }
}

impl TermLists {
    /// Every `*.txt` in `dir` (a missing folder means no lists).
    pub fn load(dir: &Path) -> Result<Self, TermsError> {
        Self::from_files(&ListFiles::read(dir)?)
    }

    /// The lists in `files`; each file's stem is its category.
    pub fn from_files(files: &ListFiles) -> Result<Self, TermsError> {
        let mut set = PhraseSet::default();
        for (name, bytes) in files.iter() {
            let category = name.strip_suffix(".txt").unwrap_or(name).to_string();
            let text = std::str::from_utf8(bytes).map_err(|e| TermsError::Read {
                path: name.to_string(),
                reason: format!("not UTF-8 text ({e})"),
            })?;
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
