//! Likeness in clips: every embedded face is matched against the registry; matches under the
//! threshold are kept per face and summed up per person.

use super::Persons;

use crate::vocab::PersonId;
use crate::vocab::{widen, FaceDetection};
use crate::vocab::{FaceMatch, PersonSighting};
use std::collections::BTreeMap;

/// Sets `person` on each embedded face closer to someone than `threshold` gives for its size
/// (the shorter side of its box, frame pixels), and returns one sighting per person, closest
/// first. `frames` gives each frame's time and faces.
pub fn match_faces<'a>(
    frames: impl IntoIterator<Item = (f64, &'a mut [FaceDetection])>,
    persons: &Persons,
    threshold: impl Fn(f32) -> f32,
) -> Vec<PersonSighting> {
    let mut sightings: BTreeMap<PersonId, PersonSighting> = BTreeMap::new();
    for (time_s, faces) in frames {
        let mut seen_here = Vec::new();
        for face in faces.iter_mut() {
            let Some(e) = &face.embedding else { continue };
            let Some((id, distance)) = persons.faces.nearest(e) else {
                continue;
            };
            let limit = threshold(face.face.bbox.w.min(face.face.bbox.h));
            let Some(info) = persons.people.get(&id).filter(|_| distance < limit) else {
                face.person = None;
                continue;
            };
            face.person = Some(FaceMatch {
                person_id: id,
                name: info.name.clone(),
                distance,
            });
            let s = sightings.entry(id).or_insert_with(|| PersonSighting {
                person_id: id,
                name: info.name.clone(),
                kind: info.kind,
                allowed_users: info.allowed_users.clone(),
                best_distance: widen(distance),
                best_time_s: time_s,
                best_box: face.face.bbox,
                frames: 0,
                first_s: time_s,
                last_s: time_s,
            });
            if widen(distance) < s.best_distance {
                s.best_distance = widen(distance);
                s.best_time_s = time_s;
                s.best_box = face.face.bbox;
            }
            s.first_s = s.first_s.min(time_s);
            s.last_s = s.last_s.max(time_s);
            if !seen_here.contains(&id) {
                seen_here.push(id);
                s.frames += 1;
            }
        }
    }
    let mut out: Vec<_> = sightings.into_values().collect();
    out.sort_by(|a, b| a.best_distance.total_cmp(&b.best_distance));
    out
}
