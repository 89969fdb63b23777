//! What the models see in one frame: boxes, faces, nudity classes, embeddings, and which
//! model files saw it.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in frame pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl BBox {
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn iou(&self, other: &BBox) -> f32 {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (self.x + self.w).min(other.x + other.w);
        let y2 = (self.y + self.h).min(other.y + other.h);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// A point in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// A line of text read in a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TextLine {
    pub text: String,
    /// Mean probability of its characters (0-1).
    pub score: f32,
    /// The line's axis-aligned bounds, in frame pixels.
    pub bbox: BBox,
    /// Its corners (top-left, top-right, bottom-right, bottom-left): lines may be tilted.
    pub quad: [Point; 4],
}

/// A detected face. Landmarks: left eye, right eye, nose tip, left and right mouth corners,
/// in image orientation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Face {
    pub bbox: BBox,
    pub score: f32,
    pub landmarks: [Point; 5],
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NudityClass {
    FemaleGenitaliaCovered,
    FaceFemale,
    ButtocksExposed,
    FemaleBreastExposed,
    FemaleGenitaliaExposed,
    MaleBreastExposed,
    AnusExposed,
    FeetExposed,
    BellyCovered,
    FeetCovered,
    ArmpitsCovered,
    ArmpitsExposed,
    FaceMale,
    BellyExposed,
    MaleGenitaliaExposed,
    AnusCovered,
    FemaleBreastCovered,
    ButtocksCovered,
}

impl NudityClass {
    pub const ALL: [NudityClass; 18] = [
        Self::FemaleGenitaliaCovered,
        Self::FaceFemale,
        Self::ButtocksExposed,
        Self::FemaleBreastExposed,
        Self::FemaleGenitaliaExposed,
        Self::MaleBreastExposed,
        Self::AnusExposed,
        Self::FeetExposed,
        Self::BellyCovered,
        Self::FeetCovered,
        Self::ArmpitsCovered,
        Self::ArmpitsExposed,
        Self::FaceMale,
        Self::BellyExposed,
        Self::MaleGenitaliaExposed,
        Self::AnusCovered,
        Self::FemaleBreastCovered,
        Self::ButtocksCovered,
    ];

    /// The label the `nudenet` package uses (and serde writes).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 18] = [
            "FEMALE_GENITALIA_COVERED",
            "FACE_FEMALE",
            "BUTTOCKS_EXPOSED",
            "FEMALE_BREAST_EXPOSED",
            "FEMALE_GENITALIA_EXPOSED",
            "MALE_BREAST_EXPOSED",
            "ANUS_EXPOSED",
            "FEET_EXPOSED",
            "BELLY_COVERED",
            "FEET_COVERED",
            "ARMPITS_COVERED",
            "ARMPITS_EXPOSED",
            "FACE_MALE",
            "BELLY_EXPOSED",
            "MALE_GENITALIA_EXPOSED",
            "ANUS_COVERED",
            "FEMALE_BREAST_COVERED",
            "BUTTOCKS_COVERED",
        ];
        NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NudityDetection {
    pub class: NudityClass,
    pub score: f32,
    pub bbox: BBox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Nudity,
    Faces,
    Embed,
    /// PP-OCRv4 text detection, the upside-down classifier and recognition.
    #[serde(rename = "text_detect")]
    TextDetect,
    #[serde(rename = "text_classify")]
    TextClassify,
    #[serde(rename = "text_recognize")]
    TextRecognize,
    /// A generic image classifier declared in the manifest (one score per label).
    Classifier,
    /// An image encoder into a joint embedding space (CLIP), for categories defined by example.
    #[serde(rename = "image_embed")]
    ImageEmbed,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Nudity => "nudity",
            ModelKind::Faces => "faces",
            ModelKind::Embed => "embed",
            ModelKind::TextDetect => "text_detect",
            ModelKind::TextClassify => "text_classify",
            ModelKind::TextRecognize => "text_recognize",
            ModelKind::Classifier => "classifier",
            ModelKind::ImageEmbed => "image_embed",
        }
    }
}

/// A model as the decision log records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelInfo {
    pub name: String,
    pub kind: ModelKind,
    pub sha256: String,
    /// The PyPI package and version the file came from.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding(pub Vec<f32>);

impl Embedding {
    pub fn distance(&self, other: &Embedding) -> f32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt()
    }
}
