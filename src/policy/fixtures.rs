//! Policy tests: fixtures in `policies/tests/*.yaml`, each a list of cases giving signals,
//! prompt and request, and the expected action and matched rule ids.

use super::input::ClipView;
use super::{Policy, PolicyError, PolicyInput, PromptView, RequestContext};
use crate::vocab::Action;
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    signals: ClipView,
    #[serde(default)]
    prompt: PromptView,
    #[serde(default)]
    request: RequestContext,
    /// Parameters set otherwise for this case, as an operator would configure the policy.
    #[serde(default)]
    params: std::collections::BTreeMap<String, serde_json::Value>,
    expect: Action,
    /// Enforced rules expected to match, exactly (any order).
    #[serde(default)]
    rules: Vec<String>,
    /// Shadow rules expected to match, exactly; unchecked when absent.
    #[serde(default)]
    shadow: Option<Vec<String>>,
}

/// One case's result.
pub struct FixtureOutcome {
    pub file: String,
    pub name: String,
    /// Empty when the case passed.
    pub problems: Vec<String>,
}

/// Runs every `*.yaml` case file in `dir` against `policy`.
pub fn run_fixtures(policy: &Policy, dir: &Path) -> Result<Vec<FixtureOutcome>, PolicyError> {
    let read = |path: &Path, e: String| PolicyError::Read {
        path: path.display().to_string(),
        reason: e,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| read(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| read(&path, e.to_string()))?;
        let cases: Vec<Case> = serde_yaml_ng::from_str(&text).map_err(|e| PolicyError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for case in cases {
            let mut signals = case.signals;
            if let Err(problem) = policy.sections.complete(&mut signals) {
                out.push(FixtureOutcome {
                    file: file.clone(),
                    name: case.name,
                    problems: vec![problem],
                });
                continue;
            }
            // A case that describes something seen in the clip is about a clip.
            signals.present = signals.present || policy.sections.describes_something(&signals);
            let mut prompt = case.prompt;
            prompt.present =
                prompt.present || !prompt.persons.is_empty() || !prompt.terms.is_empty();
            if prompt.categories.is_empty() {
                prompt.categories = super::input::categories(&prompt.terms);
            }
            let input = PolicyInput {
                signals,
                prompt,
                request: case.request,
            };
            let v = match policy.decide_with_params(&input, &case.params) {
                Ok(v) => v,
                Err(problem) => {
                    out.push(FixtureOutcome {
                        file: file.clone(),
                        name: case.name,
                        problems: vec![problem],
                    });
                    continue;
                }
            };
            let mut problems = Vec::new();
            if v.action != case.expect {
                problems.push(format!("expected {:?}, got {:?}", case.expect, v.action));
            }
            let ids = |ms: &[super::RuleMatch]| {
                let mut v: Vec<String> = ms.iter().map(|m| m.rule.clone()).collect();
                v.sort();
                v
            };
            let mut want = case.rules.clone();
            want.sort();
            if ids(&v.matched) != want {
                problems.push(format!(
                    "expected rules {want:?}, got {:?}",
                    ids(&v.matched)
                ));
            }
            if let Some(mut want) = case.shadow {
                want.sort();
                if ids(&v.shadow) != want {
                    problems.push(format!(
                        "expected shadow rules {want:?}, got {:?}",
                        ids(&v.shadow)
                    ));
                }
            }
            for f in &v.failures {
                problems.push(format!("rule {} failed: {}", f.rule, f.error));
            }
            out.push(FixtureOutcome {
                file: file.clone(),
                name: case.name,
                problems,
            });
        }
    }
    Ok(out)
}
