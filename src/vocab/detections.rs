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
    /// Voice activity detection on 16 kHz audio (Silero VAD).
    Vad,
    /// A speaker encoder: a voice's embedding, for voices of registered persons (Resemblyzer).
    #[serde(rename = "voice_embed")]
    VoiceEmbed,
    /// Whisper's encoder (log-mel to cross-attention keys and values) and its decoder step.
    #[serde(rename = "speech_encoder")]
    SpeechEncoder,
    #[serde(rename = "speech_decoder")]
    SpeechDecoder,
    /// A sentence encoder: text in any language to an embedding whose cosine says how alike two
    /// texts mean (multilingual-e5-small), for text categories defined by example phrases.
    #[serde(rename = "text_embed")]
    TextEmbed,
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
            ModelKind::Vad => "vad",
            ModelKind::VoiceEmbed => "voice_embed",
            ModelKind::SpeechEncoder => "speech_encoder",
            ModelKind::SpeechDecoder => "speech_decoder",
            ModelKind::TextEmbed => "text_embed",
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

/// A PDQ perceptual hash (Meta's 256-bit image hash): near-identical pictures have hashes a
/// small Hamming distance apart. Written as 64 hex digits in the byte order of Meta's
/// reference tools and ThreatExchange hash files.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pdq(pub [u8; 32]);

impl Pdq {
    pub fn distance(&self, other: &Pdq) -> u32 {
        self.words()
            .iter()
            .zip(other.words())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// The hash as four 64-bit words (bits of the hex form from the left, in order).
    pub fn words(&self) -> [u64; 4] {
        std::array::from_fn(|i| {
            u64::from_be_bytes(self.0[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
        })
    }

    pub fn from_words(w: [u64; 4]) -> Self {
        let mut out = [0u8; 32];
        for (i, x) in w.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&x.to_be_bytes());
        }
        Pdq(out)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::str::FromStr for Pdq {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(format!(
                "a PDQ hash is 64 hex digits, not {} characters: {s:?}",
                s.len()
            ));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|e| format!("a PDQ hash is 64 hex digits ({e}): {s:?}"))?;
        Ok(Pdq(out))
    }
}

impl std::fmt::Debug for Pdq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pdq({})", self.to_hex())
    }
}

impl std::fmt::Display for Pdq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Pdq {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Pdq {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A frame's PDQ hash and its quality (0-100, as Meta's tools give it): a featureless frame
/// (a flat colour, a fade) has low quality, and its hash matches too much to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FramePdq {
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub hash: Pdq,
    pub quality: u8,
}

#[cfg(test)]
mod pdq_tests {
    use super::Pdq;

    #[test]
    fn hex_words_and_distance_agree() {
        let h: Pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
            .parse()
            .unwrap();
        assert_eq!(Pdq::from_words(h.words()), h);
        assert_eq!(h.words()[0], 0xf8f8f0cee0f4a84f);
        assert_eq!(h.distance(&h), 0);
        let mut w = h.words();
        w[3] ^= 0b1011;
        assert_eq!(h.distance(&Pdq::from_words(w)), 3);
        assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{h}\""));
        assert!("f8f8".parse::<Pdq>().unwrap_err().contains("64 hex digits"));
        assert!(format!("{:0>64}", "g").parse::<Pdq>().is_err());
    }
}
