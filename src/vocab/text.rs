//! What text says and who is seen: persons named or listed terms in prompts, persons whose face
//! matched in frames.

use super::BBox;
use serde::{Deserialize, Serialize};

pub type PersonId = i64;

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    #[default]
    PublicFigure,
    PrivateIndividual,
}

impl PersonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonKind::PublicFigure => "public_figure",
            PersonKind::PrivateIndividual => "private_individual",
        }
    }
}

impl std::str::FromStr for PersonKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public_figure" => Ok(PersonKind::PublicFigure),
            "private_individual" => Ok(PersonKind::PrivateIndividual),
            other => Err(format!(
                "unknown person kind {other:?} (public_figure or private_individual)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NameStrength {
    /// A full name or an alias.
    #[default]
    Full,
    /// Only the last word of a multi-word name: weaker evidence.
    Surname,
}

impl NameStrength {
    pub fn as_str(self) -> &'static str {
        match self {
            NameStrength::Full => "full",
            NameStrength::Surname => "surname",
        }
    }
}

/// A person named in a text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NameMatch {
    pub person_id: PersonId,
    pub name: String,
    pub kind: PersonKind,
    pub allowed_users: Vec<String>,
    /// The registered name or alias that matched.
    pub alias: String,
    pub strength: NameStrength,
    /// 0-1: how likely the text means this person, from the form of the match and its
    /// context; policies compare it with their thresholds.
    pub score: f64,
    /// Why it scored so: the form (full_name, reversed_name, joined_name, single_name,
    /// surname_only), how it was written (look_alike, typo, split, spelt_out, mention,
    /// hashtag, capitalised, lower_case, common_word) and its context (title, initial,
    /// person_context, possessive, after_article, place_or_thing, other_given_name,
    /// always_match).
    pub reasons: Vec<String>,
    /// True when the text wrote the name as registered (up to case and spacing); false when
    /// it took normalisation (look-alikes, leetspeak, joins, typos...) to see it.
    pub exact: bool,
    /// Byte offsets in the original text, and the text there.
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The registered person a face matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceMatch {
    pub person_id: PersonId,
    pub name: String,
    pub distance: f32,
}

/// A person seen in a clip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PersonSighting {
    pub person_id: PersonId,
    pub name: String,
    pub kind: PersonKind,
    pub allowed_users: Vec<String>,
    pub best_distance: f64,
    /// Where the best match was: frame time and box.
    pub best_time_s: f64,
    pub best_box: BBox,
    /// Sampled frames in which the person was matched.
    pub frames: u32,
    pub first_s: f64,
    pub last_s: f64,
}

/// A term found in a prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TermMatch {
    pub category: String,
    pub term: String,
    /// Byte offsets in the original prompt, and the text there.
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Whether a requesting user may depict a registered person: the person's allowed users are
/// the verified consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Allowed,
    NotAllowed,
    /// The request named no user, so no consent can apply.
    NoUser,
}

impl Consent {
    pub fn of(allowed_users: &[String], user: Option<&str>) -> Self {
        match user {
            Some(u) if allowed_users.iter().any(|a| a == u) => Consent::Allowed,
            Some(_) => Consent::NotAllowed,
            None => Consent::NoUser,
        }
    }

    /// For people reading a report.
    pub fn describe(self) -> &'static str {
        match self {
            Consent::Allowed => "allowed for this user",
            Consent::NotAllowed => "NOT allowed for this user",
            Consent::NoUser => "no user given",
        }
    }
}

/// The distinct categories of listed terms found, sorted: what rules test with
/// `"sexual" in prompt.categories` (and `signals.text.categories`).
pub fn term_categories<'a>(found: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut c: Vec<String> = found.map(str::to_string).collect();
    c.sort();
    c.dedup();
    c
}
