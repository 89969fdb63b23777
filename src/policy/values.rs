//! The policy input as CEL values, built directly. Going through serde (`cel::to_value`) meant
//! two full conversions per decision, serde to `Value` and `Value` to CEL's internal values,
//! and was most of a decision's cost; this builds the internal values once and borrows every
//! string from the input. The types match what `cel::to_value` gives (unsigned integers are
//! `uint`, enums their serde names), which a test checks field by field.

use super::input::{ClipView, CoverageView, PolicyInput, PromptView, RequestContext};
use super::Schema;
use crate::vocab::NameMatch;
use crate::vocab::TermMatch;
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use std::borrow::Cow;
use std::collections::HashMap;

pub(crate) type V<'a> = Box<dyn Val + 'a>;

fn s(x: &str) -> V<'_> {
    Box::new(CelString::from(x))
}

fn d<'a>(x: f64) -> V<'a> {
    Box::new(CelDouble::from(x))
}

fn u<'a>(x: u64) -> V<'a> {
    Box::new(CelUInt::from(x))
}

fn i<'a>(x: i64) -> V<'a> {
    Box::new(CelInt::from(x))
}

fn b<'a>(x: bool) -> V<'a> {
    Box::new(CelBool::from(x))
}

fn list<'a>(items: impl Iterator<Item = V<'a>>) -> V<'a> {
    Box::new(CelList::from(items.collect::<Vec<_>>()))
}

fn map<'a, const N: usize>(entries: [(&'static str, V<'a>); N]) -> V<'a> {
    let m: HashMap<CelMapKey<'a>, V<'a>> = entries
        .into_iter()
        .map(|(k, v)| (CelMapKey::from(k), v))
        .collect();
    Box::new(CelMap::from(m))
}

fn strings(v: &[String]) -> V<'_> {
    list(v.iter().map(|x| s(x)))
}

fn coverage(c: &CoverageView) -> V<'_> {
    map([
        ("complete", b(c.complete)),
        ("problems", strings(&c.problems)),
        ("decode_errors", u(c.decode_errors)),
        ("first_error_s", d(c.first_error_s)),
        ("covered_share", d(c.covered_share)),
        ("unseen_s", d(c.unseen_s)),
        ("format_changes", u(c.format_changes)),
        ("smallest_face_px", d(c.smallest_face_px)),
        (
            "smallest_face_px_scene_starts",
            d(c.smallest_face_px_scene_starts),
        ),
        ("audio_complete", b(c.audio_complete)),
        ("audio_streams", u(c.audio_streams)),
        ("audio_heard_s", d(c.audio_heard_s)),
    ])
}

fn name_match(m: &NameMatch) -> V<'_> {
    map([
        ("person_id", i(m.person_id)),
        ("name", s(&m.name)),
        ("kind", s(m.kind.as_str())),
        ("allowed_users", strings(&m.allowed_users)),
        ("alias", s(&m.alias)),
        ("strength", s(m.strength.as_str())),
        ("score", d(m.score)),
        ("reasons", strings(&m.reasons)),
        ("exact", b(m.exact)),
        ("start", u(m.start as u64)),
        ("end", u(m.end as u64)),
        ("text", s(&m.text)),
    ])
}

fn term(t: &TermMatch) -> V<'_> {
    map([
        ("category", s(&t.category)),
        ("term", s(&t.term)),
        ("start", u(t.start as u64)),
        ("end", u(t.end as u64)),
        ("text", s(&t.text)),
    ])
}

pub(crate) fn clip<'a>(c: &'a ClipView, sections: &'a Schema) -> V<'a> {
    let mut m: HashMap<CelMapKey<'_>, V<'_>> = HashMap::new();
    for (key, value) in [
        ("present", b(c.present)),
        ("duration_s", d(c.duration_s)),
        ("frames_analysed", u(c.frames_analysed)),
        ("frames_over_budget", u(c.frames_over_budget)),
        ("coverage", coverage(&c.coverage)),
    ] {
        m.insert(CelMapKey::from(key), value);
    }
    // Each analyser's own section, as serde gives it (its schema fills in an absent one, and
    // gives its view where policies see it otherwise).
    for (key, value) in sections.values(c) {
        let value = match value {
            Cow::Borrowed(v) => json(v),
            Cow::Owned(v) => owned_json(v),
        };
        m.insert(CelMapKey::from(key), value);
    }
    Box::new(CelMap::from(m))
}

pub(crate) fn prompt(p: &PromptView) -> V<'_> {
    map([
        ("present", b(p.present)),
        ("persons", list(p.persons.iter().map(name_match))),
        ("terms", list(p.terms.iter().map(term))),
        ("categories", strings(&p.categories)),
        (
            "meaning",
            owned_json(serde_json::to_value(&p.meaning).expect("meanings serialise to JSON")),
        ),
    ])
}

pub(crate) fn request(r: &RequestContext) -> V<'_> {
    map([
        ("user", s(&r.user)),
        ("consents", list(r.consents.iter().map(|c| i(*c)))),
    ])
}

/// Parameters as serde would give them: non-negative integers are `uint`.
pub(crate) fn json(v: &serde_json::Value) -> V<'_> {
    match v {
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(x) => b(*x),
        serde_json::Value::Number(n) => number(n),
        serde_json::Value::String(x) => s(x),
        serde_json::Value::Array(items) => list(items.iter().map(json)),
        serde_json::Value::Object(m) => {
            let m: HashMap<CelMapKey<'_>, V<'_>> = m
                .iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), json(v)))
                .collect();
            Box::new(CelMap::from(m))
        }
    }
}

/// A value built for this decision (a section's view), as [`json`] gives it.
fn owned_json<'a>(v: serde_json::Value) -> V<'a> {
    match v {
        serde_json::Value::String(x) => Box::new(CelString::from(x)),
        serde_json::Value::Array(items) => list(items.into_iter().map(owned_json)),
        serde_json::Value::Object(m) => {
            let m: HashMap<CelMapKey<'a>, V<'a>> = m
                .into_iter()
                .map(|(k, v)| (CelMapKey::from(k), owned_json(v)))
                .collect();
            Box::new(CelMap::from(m))
        }
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(x) => b(x),
        serde_json::Value::Number(n) => number(&n),
    }
}

fn number<'a>(n: &serde_json::Number) -> V<'a> {
    match (n.as_u64(), n.as_i64()) {
        (Some(x), _) => u(x),
        (None, Some(x)) => i(x),
        _ => d(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// The policy's parameters.
pub(crate) fn params(p: &std::collections::BTreeMap<String, serde_json::Value>) -> V<'_> {
    let m: HashMap<CelMapKey<'_>, V<'_>> = p
        .iter()
        .map(|(k, v)| (CelMapKey::from(k.as_str()), json(v)))
        .collect();
    Box::new(CelMap::from(m))
}

/// All of an input, by variable name.
pub(crate) fn input<'a>(x: &'a PolicyInput, sections: &'a Schema) -> [(&'static str, V<'a>); 3] {
    [
        ("signals", clip(&x.signals, sections)),
        ("prompt", prompt(&x.prompt)),
        ("request", request(&x.request)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_json(v: &V<'_>) -> serde_json::Value {
        cel::Value::try_from(v.as_ref()).unwrap().json().unwrap()
    }

    #[test]
    fn direct_values_equal_what_serde_gives() {
        let sections = Schema::new(&crate::analysers::schema());
        for sample in super::super::input_samples(&sections) {
            // A section the sample leaves out reads as its empty value.
            let mut filled = sample.signals.clone();
            for (key, value) in sections.values(&sample.signals) {
                filled.sections.insert_value(key, value.into_owned());
            }
            for (name, v) in input(&sample, &sections) {
                let via_serde = match name {
                    "signals" => cel::to_value(&filled),
                    "prompt" => cel::to_value(&sample.prompt),
                    _ => cel::to_value(&sample.request),
                }
                .unwrap();
                assert_eq!(as_json(&v), via_serde.json().unwrap(), "{name}");
                // Types too: uint stays uint (json() would print 3 for both 3 and 3u).
                assert_eq!(
                    format!("{:?}", cel::Value::try_from(v.as_ref()).unwrap()).len(),
                    format!("{via_serde:?}").len(),
                    "{name}"
                );
            }
        }
        let params: serde_json::Value =
            serde_json::json!({"a": 1, "b": -2, "c": 0.5, "d": ["x"], "e": {"f": true}});
        assert_eq!(
            as_json(&json(&params)),
            cel::to_value(&params).unwrap().json().unwrap()
        );
    }
}
