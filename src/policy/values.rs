//! The policy input as CEL values, built directly. Going through serde (`cel::to_value`) meant
//! two full conversions per decision, serde to `Value` and `Value` to CEL's internal values,
//! and was most of a decision's cost; this builds the internal values once and borrows every
//! string from the input. The types match what `cel::to_value` gives (unsigned integers are
//! `uint`, enums their serde names), which a test checks field by field.

use super::input::{ClipView, CoverageView, PolicyInput, PromptView, RequestContext, TextView};
use super::Schema;
use crate::vocab::BBox;
use crate::vocab::TermMatch;
use crate::vocab::{CategoryPeak, FaceSummary, ScorePeak};
use crate::vocab::{HashMatch, NameMatch, PersonSighting, TextNameMatch, TextTermMatch, TextTrack};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
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

fn bbox<'a>(x: &BBox) -> V<'a> {
    map([
        ("x", d(x.x.into())),
        ("y", d(x.y.into())),
        ("w", d(x.w.into())),
        ("h", d(x.h.into())),
    ])
}

fn score_peak<'a>(p: &ScorePeak) -> V<'a> {
    map([
        ("max_score", d(p.max_score)),
        ("time_s", d(p.time_s)),
        ("frame", u(p.frame)),
    ])
}

fn category<'a>(p: &CategoryPeak) -> V<'a> {
    map([
        ("score", d(p.score)),
        ("counter_score", d(p.counter_score)),
        ("time_s", d(p.time_s)),
        ("frame", u(p.frame)),
        ("frames", u(p.frames.into())),
    ])
}

fn faces<'a>(f: &FaceSummary) -> V<'a> {
    map([
        ("frames_with_faces", u(f.frames_with_faces.into())),
        ("max_faces_in_frame", u(f.max_faces_in_frame.into())),
        ("faces_embedded", u(f.faces_embedded.into())),
        ("faces_too_small", u(f.faces_too_small.into())),
    ])
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

fn sighting(p: &PersonSighting) -> V<'_> {
    map([
        ("person_id", i(p.person_id)),
        ("name", s(&p.name)),
        ("kind", s(p.kind.as_str())),
        ("allowed_users", strings(&p.allowed_users)),
        ("best_distance", d(p.best_distance)),
        ("best_time_s", d(p.best_time_s)),
        ("best_box", bbox(&p.best_box)),
        ("frames", u(p.frames.into())),
        ("first_s", d(p.first_s)),
        ("last_s", d(p.last_s)),
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

fn text_line(t: &TextTrack) -> V<'_> {
    map([
        ("text", s(&t.text)),
        ("score", d(t.score)),
        ("frames", u(t.frames.into())),
        ("first_s", d(t.first_s)),
        ("last_s", d(t.last_s)),
        ("bbox", bbox(&t.bbox)),
    ])
}

fn text_name(m: &TextNameMatch) -> V<'_> {
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
        ("text", s(&m.text)),
        ("line", s(&m.line)),
        ("first_s", d(m.first_s)),
        ("last_s", d(m.last_s)),
        ("bbox", bbox(&m.bbox)),
    ])
}

fn text_term(t: &TextTermMatch) -> V<'_> {
    map([
        ("category", s(&t.category)),
        ("term", s(&t.term)),
        ("text", s(&t.text)),
        ("line", s(&t.line)),
        ("first_s", d(t.first_s)),
        ("last_s", d(t.last_s)),
    ])
}

fn hash_match(m: &HashMatch) -> V<'_> {
    map([
        ("bank", s(&m.bank)),
        ("source", s(&m.source)),
        ("action", s(m.action.as_str())),
        ("item", s(&m.item)),
        ("frames", u(m.frames.into())),
        ("query_share", d(m.query_share)),
        ("bank_share", d(m.bank_share)),
        ("best_distance", u(m.best_distance.into())),
        ("first_s", d(m.first_s)),
        ("last_s", d(m.last_s)),
    ])
}

fn text(t: &TextView) -> V<'_> {
    map([
        ("lines", list(t.lines.iter().map(text_line))),
        ("persons", list(t.persons.iter().map(text_name))),
        ("terms", list(t.terms.iter().map(text_term))),
        ("categories", strings(&t.categories)),
    ])
}

pub(crate) fn clip<'a>(c: &'a ClipView, sections: &'a Schema) -> V<'a> {
    let classifiers: HashMap<CelMapKey<'_>, V<'_>> = c
        .classifiers
        .iter()
        .map(|(name, labels)| {
            let labels: HashMap<CelMapKey<'_>, V<'_>> = labels
                .iter()
                .map(|(l, p)| (CelMapKey::from(l.as_str()), score_peak(p)))
                .collect();
            (
                CelMapKey::from(name.as_str()),
                Box::new(CelMap::from(labels)) as V<'_>,
            )
        })
        .collect();
    let categories: HashMap<CelMapKey<'_>, V<'_>> = c
        .categories
        .iter()
        .map(|(name, p)| (CelMapKey::from(name.as_str()), category(p)))
        .collect();
    let mut m: HashMap<CelMapKey<'_>, V<'_>> = HashMap::new();
    for (key, value) in [
        ("present", b(c.present)),
        ("duration_s", d(c.duration_s)),
        ("frames_analysed", u(c.frames_analysed)),
        ("frames_over_budget", u(c.frames_over_budget)),
        ("faces", faces(&c.faces)),
        ("persons", list(c.persons.iter().map(sighting))),
        ("text", text(&c.text)),
        ("classifiers", Box::new(CelMap::from(classifiers))),
        ("categories", Box::new(CelMap::from(categories))),
        ("hash_matches", list(c.hash_matches.iter().map(hash_match))),
        ("coverage", coverage(&c.coverage)),
    ] {
        m.insert(CelMapKey::from(key), value);
    }
    // Each analyser's own section, as serde gives it (its schema fills in an absent one).
    for (key, value) in sections.values(c) {
        m.insert(CelMapKey::from(key), json(value));
    }
    Box::new(CelMap::from(m))
}

pub(crate) fn prompt(p: &PromptView) -> V<'_> {
    map([
        ("present", b(p.present)),
        ("persons", list(p.persons.iter().map(name_match))),
        ("terms", list(p.terms.iter().map(term))),
        ("categories", strings(&p.categories)),
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
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(x), _) => u(x),
            (None, Some(x)) => i(x),
            _ => d(n.as_f64().unwrap_or(f64::NAN)),
        },
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
                filled.sections.insert_value(key, value.clone());
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
