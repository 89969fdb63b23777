//! Declarative policies: YAML files whose rule conditions are CEL expressions over the
//! screening signals, the prompt, the request and named parameters. Detectors never decide;
//! this is the only place that does.
//!
//! Every expression is compiled and then evaluated against complete and empty sample inputs
//! when the policy loads, so a misspelt signal, an unknown parameter or a comparison of the
//! wrong types is refused before the policy is used, with the file and rule named.

mod fixtures;
mod input;
mod live;
mod template;
mod values;

pub use fixtures::{run_fixtures, FixtureOutcome};
pub use input::{ClipView, CoverageView, PolicyInput, PromptView, RequestContext};
pub use live::{LivePolicy, Reloaded};

use crate::text::terms::{ListFiles, TermLists};
use crate::vocab::{
    Action, Dotted, Mode, PolicyRef, RuleFailure, RuleMatch, SectionSchema, Verdict,
};
use cel::{Context, Env, Program, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use template::Template;

/// Longest condition accepted, in characters, and deepest bracket nesting.
const MAX_EXPRESSION_LEN: usize = 2000;
const MAX_NESTING: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: cannot read: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: invalid policy: {reason}")]
    Parse { path: String, reason: String },
    #[error("{path}: rule {rule:?}: {problem}")]
    Rule {
        path: String,
        rule: String,
        problem: String,
    },
    #[error(transparent)]
    Terms(#[from] crate::text::terms::TermsError),
    /// A new version that would drop rules of the running one without saying so.
    #[error("{path}: drops rule(s) {} of the running policy without declaring it: a file cut short or emptied is refused; list them under `removes:` to drop them on purpose", rules.join(", "))]
    RulesRemoved { path: String, rules: Vec<String> },
    /// A new version that fails the policy's own fixtures.
    #[error("{path}: fails {failed} of {cases} fixture case(s) in {fixtures}; first: {first}")]
    Fixtures {
        path: String,
        fixtures: String,
        failed: usize,
        cases: usize,
        first: String,
    },
}

impl PolicyError {
    /// Why a reload was refused, as the `result` label of `clipguard_policy_reloads_total`.
    pub fn refusal(&self) -> &'static str {
        match self {
            PolicyError::RulesRemoved { .. } => "rules_removed",
            PolicyError::Fixtures { .. } => "fixtures_failed",
            _ => "error",
        }
    }
}

impl crate::vocab::Failure for PolicyError {
    fn code(&self) -> crate::vocab::ErrorCode {
        crate::vocab::ErrorCode::InvalidPolicy
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: BTreeMap<String, serde_json::Value>,
    rules: Vec<RuleFile>,
    /// Rule ids this version drops on purpose: without them here, a reload that loses a
    /// rule of the running policy is refused (a file cut short or emptied in place).
    #[serde(default)]
    removes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    #[serde(default)]
    description: String,
    category: String,
    when: String,
    action: RuleAction,
    #[serde(default)]
    mode: Mode,
    message: String,
    /// A CEL expression giving the evidence to attach when the rule matches (a list of maps,
    /// or one map): times, boxes, persons, scores. Available to the message as `evidence`.
    #[serde(default)]
    evidence: Option<String>,
    /// A CEL expression giving the match's severity, 0 (safe) to 3 (high), with `evidence` in
    /// scope (`evidence.exists(e, e.severity >= 2) ? 2 : 1`), or a number.
    #[serde(default)]
    severity: Option<String>,
}

/// A rule can only escalate: `allow` is what no match means.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RuleAction {
    Block,
    Review,
}

pub struct Rule {
    pub id: String,
    pub description: String,
    pub category: String,
    pub action: Action,
    pub mode: Mode,
    pub source: String,
    /// The fields of `signals` the rule reads (in its condition, evidence or message).
    pub reads: Vec<String>,
    when: Program,
    evidence: Option<Program>,
    severity: Option<Program>,
    message: Template,
}

/// A loaded, validated policy.
pub struct Policy {
    pub name: String,
    pub description: String,
    /// sha256 of the policy file and the term lists, which both change decisions.
    pub version: String,
    pub path: PathBuf,
    pub rules: Vec<Rule>,
    /// The term lists this version hashed: loaded with the policy and swapped with it on
    /// reload, so a decision's version always names the lists it was matched against.
    pub terms: std::sync::Arc<TermLists>,
    pub params_json: BTreeMap<String, serde_json::Value>,
    /// Rule ids this version declares it drops on purpose (`removes:` in the file).
    pub removes: Vec<String>,
    /// CEL's standard environment, built once: building it per decision cost most of the time.
    env: std::sync::Arc<Env>,
    /// The analysers' sections rules may read, with the value each shows when absent.
    sections: std::sync::Arc<Schema>,
}

/// The analysers' own sections of `signals` (`signals.provenance`...) that policies may read:
/// given by the caller (the analysers' registry), so the policy knows them without knowing the
/// analysers.
pub struct Schema {
    schemas: Vec<&'static SectionSchema>,
    /// Each section as a clip with nothing found (or no clip) shows it, built once.
    empty: Vec<serde_json::Value>,
}

impl Schema {
    pub fn new(schemas: &[&'static SectionSchema]) -> Self {
        Self {
            schemas: schemas.to_vec(),
            empty: schemas.iter().map(|s| (s.empty)()).collect(),
        }
    }

    /// Each section's key and its value in `clip` as policies see it, or its empty value.
    pub(crate) fn values<'a>(
        &'a self,
        clip: &'a ClipView,
    ) -> impl Iterator<Item = (&'static str, Cow<'a, serde_json::Value>)> {
        self.schemas.iter().zip(&self.empty).map(|(s, empty)| {
            match (clip.sections.value(s.key), s.view) {
                (None, _) => (s.key, Cow::Borrowed(empty)),
                (Some(v), None) => (s.key, Cow::Borrowed(v)),
                (Some(v), Some(view)) => (s.key, Cow::Owned(view(v))),
            }
        })
    }

    /// Whether any section of `clip` holds more than its empty value.
    pub(crate) fn describes_something(&self, clip: &ClipView) -> bool {
        self.values(clip)
            .zip(&self.empty)
            .any(|((_, value), empty)| *value != *empty)
    }

    /// How keys below the field `field` are named with dots, if it is a section's.
    fn dotted(&self, field: &str) -> Dotted {
        self.schemas
            .iter()
            .find(|s| s.key == field)
            .map_or(Dotted::None, |s| s.dotted)
    }

    /// Reads the sections of a hand-written clip (a fixture, a saved input) as their
    /// analysers' types, filling in what they leave out; a key no analyser writes is refused.
    pub fn complete(&self, clip: &mut ClipView) -> Result<(), String> {
        let mut out = crate::vocab::Sections::default();
        for (key, value) in clip.sections.iter() {
            let schema = self
                .schemas
                .iter()
                .find(|s| s.key == key)
                .ok_or_else(|| format!("signals.{key}: no such field (a misspelling?)"))?;
            let v = (schema.complete)(value.clone()).map_err(|e| format!("signals.{key}: {e}"))?;
            out.insert_value(key, v);
        }
        clip.sections = out;
        Ok(())
    }
}

/// Each rule's outcome, for `policy explain`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RuleOutcome {
    Matched(RuleMatch),
    NotMatched,
    Failed(String),
}

impl Policy {
    /// The configured policy.
    pub fn from_config(
        cfg: &crate::config::PoliciesConfig,
        sections: &[&'static SectionSchema],
    ) -> Result<Self, PolicyError> {
        Self::load(&cfg.policy_file(), &cfg.lists_dir(), sections)
    }

    /// Loads `path` and the term lists in `lists_dir`, both hashed into the version (term lists
    /// change decisions). Each file is read once: what is hashed is what is used.
    pub fn load(
        path: &Path,
        lists_dir: &Path,
        sections: &[&'static SectionSchema],
    ) -> Result<Self, PolicyError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| PolicyError::Read {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| PolicyError::Parse {
            path: p.clone(),
            reason: "not UTF-8 text".into(),
        })?;
        let file: PolicyFile = serde_yaml_ng::from_str(&text).map_err(|e| PolicyError::Parse {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let lists = ListFiles::read(lists_dir)?;
        let terms = std::sync::Arc::new(TermLists::from_files(&lists)?);
        let sections = std::sync::Arc::new(Schema::new(sections));
        let policy = Self::compile(file, path, version(&bytes, &lists), terms, sections)?;
        policy.validate()?;
        Ok(policy)
    }

    fn compile(
        file: PolicyFile,
        path: &Path,
        version: String,
        terms: std::sync::Arc<TermLists>,
        sections: std::sync::Arc<Schema>,
    ) -> Result<Self, PolicyError> {
        let p = path.display().to_string();
        if file.name.trim().is_empty() {
            return Err(PolicyError::Parse {
                path: p,
                reason: "policy name is empty".into(),
            });
        }
        let mut ids = HashSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for r in file.rules {
            let problem = |problem: String| PolicyError::Rule {
                path: p.clone(),
                rule: r.id.clone(),
                problem,
            };
            if r.id.trim().is_empty() {
                return Err(problem("rule id is empty".into()));
            }
            if !ids.insert(r.id.clone()) {
                return Err(problem("duplicate rule id".into()));
            }
            for (what, src) in [
                ("condition", Some(&r.when)),
                ("evidence", r.evidence.as_ref()),
                ("severity", r.severity.as_ref()),
            ] {
                let Some(src) = src else { continue };
                if src.chars().count() > MAX_EXPRESSION_LEN {
                    return Err(problem(format!(
                        "{what} is longer than {MAX_EXPRESSION_LEN} characters"
                    )));
                }
                let depth = nesting(src);
                if depth > MAX_NESTING {
                    return Err(problem(format!(
                        "{what} nests {depth} deep (at most {MAX_NESTING})"
                    )));
                }
            }
            let compile = |what: &str, src: &str| {
                Program::compile(src).map_err(|e| problem(format!("{what} does not parse: {e}")))
            };
            let when = compile("condition", &r.when)?;
            let evidence = r
                .evidence
                .as_deref()
                .map(|e| compile("evidence", e))
                .transpose()?;
            let severity = r
                .severity
                .as_deref()
                .map(|e| compile("severity", e))
                .transpose()?;
            let message =
                Template::parse(&r.message).map_err(|e| problem(format!("message: {e}")))?;
            let reads = signal_fields(
                &[
                    r.when.as_str(),
                    r.evidence.as_deref().unwrap_or(""),
                    r.severity.as_deref().unwrap_or(""),
                    r.message.as_str(),
                ],
                &sections,
            );
            rules.push(Rule {
                reads,
                action: match r.action {
                    RuleAction::Block => Action::Block,
                    RuleAction::Review => Action::Review,
                },
                id: r.id,
                description: r.description,
                category: r.category,
                mode: r.mode,
                source: r.when,
                when,
                evidence,
                severity,
                message,
            });
        }
        Ok(Self {
            name: file.name,
            description: file.description,
            version,
            path: path.to_path_buf(),
            rules,
            params_json: file.params,
            removes: file.removes,
            terms,
            env: std::sync::Arc::new(Env::stdlib()),
            sections,
        })
    }

    /// Refuses a policy whose rules read clip signals that no enabled analyser provides (say,
    /// `signals.persons` with the faces analyser off): such a rule could never match, and a
    /// clip would be allowed without the check the policy's author intended.
    pub fn require_signals<S: AsRef<str>>(&self, provided: &[S]) -> Result<(), PolicyError> {
        for rule in &self.rules {
            // Keys defined at run time (categories): one a rule names may come later; while it
            // is missing, the rule fails, which never ends in allow.
            let at_run_time = |f: &str| {
                f.split_once('.').is_some_and(|(field, _)| {
                    matches!(self.sections.dotted(field), Dotted::AtRunTime(_))
                })
            };
            if let Some(missing) = rule
                .reads
                .iter()
                .find(|f| !at_run_time(f) && !provided.iter().any(|p| p.as_ref() == f.as_str()))
            {
                return Err(PolicyError::Rule {
                    path: self.path.display().to_string(),
                    rule: rule.id.clone(),
                    problem: format!(
                        "reads signals.{missing}, which no enabled analyser provides (provided: {})",
                        provided
                            .iter()
                            .map(|p| p.as_ref())
                            .filter(|p| {
                                // For a key below a field, list that field's keys only.
                                match missing.split_once('.') {
                                    Some((field, _)) => p.starts_with(&format!("{field}.")),
                                    None => !p.contains('.'),
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Runs every rule on the sample inputs: each must evaluate to a bool and render its
    /// message, or the policy is refused.
    fn validate(&self) -> Result<(), PolicyError> {
        let reads: Vec<&str> = self
            .rules
            .iter()
            .flat_map(|r| r.reads.iter().map(String::as_str))
            .collect();
        for mut sample in input_samples(&self.sections) {
            sample_keys(&mut sample, &reads, &self.sections);
            for (rule, outcome) in self.rules.iter().zip(self.explain(&sample)) {
                if let RuleOutcome::Failed(problem) = outcome {
                    return Err(PolicyError::Rule {
                        path: self.path.display().to_string(),
                        rule: rule.id.clone(),
                        problem,
                    });
                }
            }
        }
        Ok(())
    }

    fn context<'a>(
        &'a self,
        input: &'a PolicyInput,
        params: &'a BTreeMap<String, serde_json::Value>,
    ) -> Context<'a, 'a> {
        let mut ctx = Context::with_env(self.env.clone());
        for (name, value) in values::input(input, &self.sections) {
            ctx.add_variable_as_val(name, value);
        }
        ctx.add_variable_as_val("params", values::params(params));
        ctx
    }

    /// Every rule's outcome on `input`.
    pub fn explain(&self, input: &PolicyInput) -> Vec<RuleOutcome> {
        self.explain_with(input, &self.params_json)
    }

    fn explain_with(
        &self,
        input: &PolicyInput,
        params: &BTreeMap<String, serde_json::Value>,
    ) -> Vec<RuleOutcome> {
        let ctx = self.context(input, params);
        self.rules.iter().map(|r| r.outcome(&ctx)).collect()
    }

    /// The decision: the most severe enforced match wins; no match is allow. A rule that fails
    /// to evaluate never ends in allow.
    pub fn decide(&self, input: &PolicyInput) -> Verdict {
        self.decide_with(input, &self.params_json)
    }

    /// The decision with other values for some parameters (a fixture trying the policy as an
    /// operator would configure it). Parameters the policy does not have are refused.
    pub fn decide_with_params(
        &self,
        input: &PolicyInput,
        overrides: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Verdict, String> {
        let mut params = self.params_json.clone();
        for (name, value) in overrides {
            match params.get_mut(name) {
                Some(p) => *p = value.clone(),
                None => return Err(format!("the policy has no parameter {name:?}")),
            }
        }
        Ok(self.decide_with(input, &params))
    }

    fn decide_with(
        &self,
        input: &PolicyInput,
        params: &BTreeMap<String, serde_json::Value>,
    ) -> Verdict {
        let mut verdict = Verdict {
            action: Action::Allow,
            matched: Vec::new(),
            shadow: Vec::new(),
            failures: Vec::new(),
            policy: PolicyRef {
                name: self.name.clone(),
                version: self.version.clone(),
            },
        };
        for (rule, outcome) in self.rules.iter().zip(self.explain_with(input, params)) {
            match outcome {
                RuleOutcome::Matched(m) if rule.mode == Mode::Shadow => verdict.shadow.push(m),
                RuleOutcome::Matched(m) => {
                    verdict.action = verdict.action.max(m.action);
                    verdict.matched.push(m);
                }
                RuleOutcome::NotMatched => {}
                RuleOutcome::Failed(error) if rule.mode == Mode::Enforce => {
                    verdict.action = verdict.action.max(Action::Review);
                    verdict.failures.push(RuleFailure {
                        rule: rule.id.clone(),
                        error,
                    });
                }
                RuleOutcome::Failed(error) => verdict.failures.push(RuleFailure {
                    rule: rule.id.clone(),
                    error,
                }),
            }
        }
        verdict.matched.sort_by_key(|m| std::cmp::Reverse(m.action));
        verdict
    }
}

impl Rule {
    fn outcome(&self, ctx: &Context) -> RuleOutcome {
        match self.when.execute(ctx) {
            Ok(Value::Bool(false)) => RuleOutcome::NotMatched,
            Ok(Value::Bool(true)) => match self.matched(ctx) {
                Ok(m) => RuleOutcome::Matched(m),
                Err(e) => RuleOutcome::Failed(e),
            },
            Ok(other) => {
                RuleOutcome::Failed(format!("condition gives {}, not a bool", other.type_of()))
            }
            Err(e) => RuleOutcome::Failed(format!("condition: {e}")),
        }
    }

    fn matched(&self, ctx: &Context) -> Result<RuleMatch, String> {
        let evidence = match &self.evidence {
            None => Value::List(Default::default()),
            Some(p) => p.execute(ctx).map_err(|e| format!("evidence: {e}"))?,
        };
        let items = match &evidence {
            Value::List(items) => items.iter().cloned().collect(),
            Value::Map(_) => vec![evidence.clone()],
            other => {
                return Err(format!(
                    "evidence gives {}, not a list or map",
                    other.type_of()
                ))
            }
        };
        let mut scope = ctx.new_inner_scope();
        scope.add_variable_from_value("evidence", evidence);
        let message = self
            .message
            .render(&scope)
            .map_err(|e| format!("message: {e}"))?;
        let severity = match &self.severity {
            None => None,
            Some(p) => Some(
                match p.execute(&scope).map_err(|e| format!("severity: {e}"))? {
                    Value::Int(v) => severity_level(v)?,
                    Value::UInt(v) => severity_level(i64::try_from(v).unwrap_or(i64::MAX))?,
                    other => return Err(format!("severity gives {}, not an int", other.type_of())),
                },
            ),
        };
        let evidence = items
            .iter()
            .map(|v| v.json().map_err(|e| format!("evidence: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(RuleMatch {
            rule: self.id.clone(),
            category: self.category.clone(),
            action: self.action,
            message,
            evidence,
            severity,
        })
    }
}

/// A rule's severity as its expression gave it: 0 to 3.
fn severity_level(v: i64) -> Result<crate::vocab::Severity, String> {
    u8::try_from(v)
        .map_err(|_| format!("severity {v}: use 0 to 3"))
        .and_then(crate::vocab::Severity::try_from)
        .map_err(|e| format!("severity: {e}"))
}

/// The distinct `signals.<field>` names in some sources, sorted, with the keys named with dots
/// below the sections that have them (`classifiers.open_nsfw.nsfw`).
fn signal_fields(sources: &[&str], sections: &Schema) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for src in sources {
        let mut rest = *src;
        while let Some(at) = rest.find("signals.") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "signals.".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let field: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let depth = sections.dotted(&field).depth();
            if depth > 0 {
                for key in dotted_keys(&rest[field.len()..], depth) {
                    let key = format!("{field}.{key}");
                    if !out.contains(&key) {
                        out.push(key);
                    }
                }
            }
            if !field.is_empty() && !out.contains(&field) {
                out.push(field);
            }
        }
    }
    out.sort();
    out
}

/// The paths of up to `depth` `.name` segments at the start of `rest` (`.a.b` gives `a` and
/// `a.b`); a segment followed by `(` is a method or macro (`.exists(`), not a key.
fn dotted_keys(rest: &str, depth: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut path = String::new();
    let mut rest = rest;
    for _ in 0..depth {
        let Some(after) = rest.strip_prefix('.') else {
            break;
        };
        let seg: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &after[seg.len()..];
        if seg.is_empty() || rest.starts_with('(') {
            break;
        }
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&seg);
        keys.push(path.clone());
    }
    keys
}

/// Deepest nesting of brackets in an expression (strings skipped).
fn nesting(src: &str) -> usize {
    let (mut depth, mut max, mut quote) = (0usize, 0usize, None);
    for c in src.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// sha256 of the policy file's bytes and each list's name and bytes.
pub(crate) fn version(policy: &[u8], lists: &ListFiles) -> String {
    let mut h = Sha256::new();
    h.update(policy);
    for (name, bytes) in lists.iter() {
        h.update(name.as_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

/// Puts the keys that rules name with dots (a classifier's labels, a category) into a sample
/// input, each with the value of the section's first sample key at that depth, so validation
/// evaluates those rules past the lookup.
fn sample_keys(sample: &mut PolicyInput, reads: &[&str], sections: &Schema) {
    for read in reads {
        let Some((field, path)) = read.split_once('.') else {
            continue;
        };
        let Some(schema) = sections.schemas.iter().find(|s| s.key == field) else {
            continue;
        };
        let keys: Vec<&str> = path.split('.').collect();
        let mut value = sample
            .signals
            .sections
            .value(field)
            .cloned()
            .unwrap_or_else(|| (schema.empty)());
        let leaf = first_at((schema.sample)(), keys.len());
        let mut at = &mut value;
        for (i, key) in keys.iter().enumerate() {
            let Some(map) = at.as_object_mut() else {
                break;
            };
            let filler = if i + 1 == keys.len() {
                leaf.clone()
            } else {
                serde_json::json!({})
            };
            at = map.entry(key.to_string()).or_insert(filler);
        }
        sample.signals.sections.insert_value(field, value);
    }
}

/// The value `depth` map levels into `v`, first key at each level (an empty map if none).
fn first_at(mut v: serde_json::Value, depth: usize) -> serde_json::Value {
    for _ in 0..depth {
        v = match v {
            serde_json::Value::Object(m) => match m.into_iter().next() {
                Some((_, inner)) => inner,
                None => return serde_json::json!({}),
            },
            _ => return serde_json::json!({}),
        };
    }
    v
}

/// Inputs every rule must evaluate on without error: everything present and alarming (each
/// analyser's sample), and nothing present.
fn input_samples(sections: &Schema) -> Vec<PolicyInput> {
    use crate::vocab::TermMatch;
    use crate::vocab::{NameMatch, NameStrength, PersonKind};
    let name = |id, strength| NameMatch {
        person_id: id,
        name: format!("Person {id}"),
        kind: PersonKind::PublicFigure,
        allowed_users: vec![],
        alias: format!("Person {id}"),
        strength,
        score: 0.9,
        reasons: vec!["full_name".into(), "capitalised".into()],
        exact: false,
        start: 0,
        end: 8,
        text: format!("Person {id}"),
    };
    let full = PolicyInput {
        signals: ClipView {
            present: true,
            duration_s: 10.0,
            frames_analysed: 20,
            frames_over_budget: 1,
            coverage: CoverageView {
                complete: false,
                problems: vec!["3 frames decoded with errors between 2.10 s and 2.40 s".into()],
                decode_errors: 3,
                first_error_s: 2.1,
                covered_share: 0.8,
                unseen_s: 2.0,
                format_changes: 1,
                smallest_face_px: 80.0,
                smallest_face_px_scene_starts: 40.0,
                audio_complete: false,
                audio_streams: 2,
                audio_heard_s: 4.5,
            },
            sections: {
                let mut out = crate::vocab::Sections::default();
                for s in &sections.schemas {
                    out.insert_value(s.key, (s.sample)());
                }
                out
            },
        },
        prompt: PromptView {
            present: true,
            persons: vec![name(1, NameStrength::Full), name(3, NameStrength::Surname)],
            terms: ["minors", "sexual", "violence"]
                .iter()
                .map(|c| TermMatch {
                    category: c.to_string(),
                    term: "term".into(),
                    start: 0,
                    end: 4,
                    text: "term".into(),
                })
                .collect(),
            categories: vec!["minors".into(), "sexual".into(), "violence".into()],
            meaning: ["minors", "sexual", "sexual_minors"]
                .iter()
                .zip([0u8, 2, 3])
                .map(|(c, level)| {
                    (
                        c.to_string(),
                        crate::vocab::MeaningMatch {
                            severity: crate::vocab::Severity::try_from(level)
                                .expect("0-3 is a severity"),
                            score: 0.9,
                            similarity: 0.9,
                            counter_similarity: 0.8,
                            example: "example".into(),
                            text: "text".into(),
                            end: 4,
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        },
        request: RequestContext {
            user: "requester".into(),
            consents: vec![1],
        },
    };
    vec![full, PolicyInput::default()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(yaml: &str) -> Result<Policy, PolicyError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, yaml).unwrap();
        Policy::load(
            &path,
            &dir.path().join("lists"),
            &crate::analysers::schema(),
        )
    }

    const RULE: &str = "name: t\nparams: {limit: 0.5}\nrules:\n";

    #[test]
    fn rules_reading_signals_no_analyser_provides_are_refused() {
        let p = load_str(&format!(
            "{RULE}  - {{id: faces, category: c, action: review, message: 'seen {{{{ signals.duration_s }}}}', when: 'signals.persons.size() > 0 && prompt.present'}}\n"
        ))
        .unwrap();
        assert_eq!(p.rules[0].reads, vec!["duration_s", "persons"]);
        assert!(p
            .require_signals(&["duration_s", "persons", "nudity"])
            .is_ok());
        let err = p
            .require_signals(&["duration_s", "nudity"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("faces") && err.contains("signals.persons"),
            "{err}"
        );
        let schema = Schema::new(&crate::analysers::schema());
        assert!(signal_fields(&["xsignals.a + my.signals.b"], &schema).is_empty());
    }

    #[test]
    fn classifier_keys_are_checked_and_categories_sampled() {
        let p = load_str(&format!(
            "{RULE}  - {{id: n, category: c, action: review, message: m, when: 'signals.classifiers.open_nsfw.nsfw.max_score > params.limit'}}\n\
             \x20 - {{id: k, category: c, action: review, message: m, when: 'signals.categories.weapons.score > 0.9 || signals.classifiers.open_nsfw.exists(l, l == \"x\")'}}\n"
        ))
        .expect("rules naming keys absent from the samples still validate");
        assert_eq!(
            p.rules[0].reads,
            vec![
                "classifiers",
                "classifiers.open_nsfw",
                "classifiers.open_nsfw.nsfw"
            ]
        );
        assert_eq!(
            p.rules[1].reads,
            vec![
                "categories",
                "categories.weapons",
                "classifiers",
                "classifiers.open_nsfw"
            ]
        );
        let provided = [
            "categories",
            "classifiers",
            "classifiers.open_nsfw",
            "classifiers.open_nsfw.sfw",
            "classifiers.open_nsfw.nsfw",
        ];
        assert!(
            p.require_signals(&provided).is_ok(),
            "a category may come later"
        );
        let err = p.require_signals(&provided[..4]).unwrap_err().to_string();
        assert!(
            err.contains("signals.classifiers.open_nsfw.nsfw")
                && err.contains("classifiers.open_nsfw.sfw")
                && !err.contains("categories"),
            "{err}"
        );
        let err = p
            .require_signals(&["categories", "classifiers"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("signals.classifiers.open_nsfw,"), "{err}");
    }

    #[test]
    fn the_default_policy_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let p = Policy::load(
            &root.join("default.yaml"),
            &root.join("lists"),
            &crate::analysers::schema(),
        )
        .unwrap();
        assert!(p.rules.len() >= 10);
        assert_eq!(p.version.len(), 64);
    }

    #[test]
    fn a_misspelt_signal_is_refused_naming_the_rule() {
        let err = load_str(&format!(
            "{RULE}  - {{id: typo, category: c, action: block, message: m, when: 'has(signals.nudty.X)'}}\n"
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("typo") && err.contains("nudty"), "{err}");
    }

    #[test]
    fn unknown_params_wrong_types_and_non_bools_are_refused() {
        for (when, expect) in [
            ("signals.duration_s > params.nope", "nope"),
            ("signals.duration_s > 'long'", "overload"),
            ("signals.duration_s + 1.0", "not a bool"),
            ("signals.persons.exists(p, p.nme == 'x')", "nme"),
        ] {
            let err = load_str(&format!(
                "{RULE}  - {{id: r1, category: c, action: review, message: m, when: \"{when}\"}}\n"
            ))
            .err()
            .unwrap_or_else(|| panic!("{when} accepted"))
            .to_string();
            assert!(
                err.contains("r1") && err.to_lowercase().contains(expect),
                "{when}: {err}"
            );
        }
    }

    #[test]
    fn syntax_errors_duplicates_bad_actions_and_deep_nesting_are_refused() {
        let err = load_str(&format!("{RULE}  - {{id: s, category: c, action: block, message: m, when: 'signals.duration_s >'}}\n"))
            .err().unwrap().to_string();
        assert!(
            err.contains("\"s\"") && err.contains("does not parse"),
            "{err}"
        );
        let dup = format!("{RULE}  - {{id: d, category: c, action: block, message: m, when: 'true'}}\n  - {{id: d, category: c, action: block, message: m, when: 'false'}}\n");
        assert!(load_str(&dup)
            .err()
            .unwrap()
            .to_string()
            .contains("duplicate rule id"));
        let bad = format!(
            "{RULE}  - {{id: a, category: c, action: explode, message: m, when: 'true'}}\n"
        );
        assert!(load_str(&bad)
            .err()
            .unwrap()
            .to_string()
            .contains("explode"));
        let deep = format!(
            "{RULE}  - {{id: n, category: c, action: block, message: m, when: '{}true{}'}}\n",
            "(".repeat(30),
            ")".repeat(30)
        );
        assert!(load_str(&deep)
            .err()
            .unwrap()
            .to_string()
            .contains("nests 30 deep"));
        let long = format!(
            "{RULE}  - {{id: l, category: c, action: block, message: m, when: '{}true'}}\n",
            "true && ".repeat(300)
        );
        assert!(load_str(&long)
            .err()
            .unwrap()
            .to_string()
            .contains("longer than"));
        assert!(load_str("name: t\nrules: []\nextra: 1\n")
            .err()
            .unwrap()
            .to_string()
            .contains("extra"));
    }

    #[test]
    fn shadow_rules_never_change_the_action() {
        let p = load_str(&format!(
            "{RULE}  - {{id: s, category: c, action: block, mode: shadow, message: 'shadow {{{{ params.limit }}}}', when: 'true'}}\n"
        ))
        .unwrap();
        let v = p.decide(&PolicyInput::default());
        assert_eq!(v.action, Action::Allow);
        assert_eq!(v.shadow[0].message, "shadow 0.5");
    }
}
