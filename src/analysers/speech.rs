//! Speech: where someone speaks in the soundtrack (Silero VAD), what they say (Whisper base)
//! and whose enrolled voice it resembles (Resemblyzer), under `signals.speech`. Names and
//! listed terms in the transcript are matched when the decision is made (`service::stages`),
//! as for on-screen text.
//!
//! A clip without speech pays for voice activity detection only: Whisper is loaded on the first
//! clip with speech (it is the largest model, 340 MB of weights), and speaker embeddings are
//! computed only while someone has an enrolled voice.

use super::{Analyser, AnalyserError, AudioInput, Built, ClipFinding, Deps, Input, Registration};
use crate::config::{Settings, SettingsSpec};
use crate::media::audio::{AudioTrack, SAMPLE_RATE};
use crate::persons::LivePersons;
use crate::speech::vad::{self, SpeechSpan, VadParams};
use crate::speech::whisper::{
    tokens::Vocabulary, AudioContext, TranscribeError, TranscribeOptions, Transcriber, WhisperFiles,
};
use crate::speech::VoiceModels;
use crate::vision::{Manifest, Vision, VisionError};
use crate::vocab::{
    ModelInfo, ModelKind, NameStrength, PersonKind, SectionSchema, Signals, Speech, SpeechSegment,
    SpeechTrack, SpokenNameMatch, SpokenTermMatch, StageTimings, TimeSpan, VoiceSighting,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const KEY: &str = "speech";

pub(super) const REGISTRATION: Registration = Registration {
    sections: std::slice::from_ref(&SECTION),
    build,
};

/// The soundtrack: speech found (Silero VAD), transcribed (Whisper base) and screened like
/// on-screen text; voices matched against registered persons' enrolled voices (Resemblyzer).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpeechConfig {
    /// Listen to the soundtrack. Off, a clip with an audio stream is not fully screened (its
    /// coverage says so) and the default policy sends it to review.
    pub enabled: bool,
    /// The language spoken, as an ISO 639-1 code (`en`), to skip detection; none: detected.
    pub language: Option<String>,
    /// Whisper encodes 30 s of audio whatever the speech's length. Unless `full_context` is
    /// set, it encodes only the speech plus this many seconds (whisper.cpp's `audio_ctx`):
    /// several times cheaper, and transcripts may differ from faster-whisper's
    /// (docs/speech.md).
    pub context_margin_s: f64,
    /// Encode the full 30 s window, as faster-whisper does.
    pub full_context: bool,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            language: None,
            context_margin_s: 1.0,
            full_context: false,
        }
    }
}

impl Settings for SpeechConfig {
    const NAME: &'static str = "speech";
}

inventory::submit! { SettingsSpec::of::<SpeechConfig>() }

static SECTION: SectionSchema = SectionSchema::of::<Speech>(KEY, sample);

/// Speech is embedded for voice matching in stretches of at least this many seconds (a
/// speaker embedding averages 1.6 s partials; shorter says little) and at most
/// `VOICE_CHUNK_MAX_S` (so two speakers taking turns are matched apart).
const VOICE_CHUNK_MIN_S: f64 = 1.5;
const VOICE_CHUNK_MAX_S: f64 = 6.0;

/// Built when speech is enabled and the manifest declares the voice activity, speaker and
/// Whisper models; otherwise a clip's audio streams go unheard and its coverage says so.
fn build(d: &Deps<'_>) -> Built {
    let cfg: SpeechConfig = d.cfg.settings();
    if !cfg.enabled {
        return Ok(None);
    }
    let manifest = &d.vision.manifest;
    let (Some(voices), Some((encoder, _)), Some((decoder, _))) = (
        d.voices,
        manifest.find(ModelKind::SpeechEncoder),
        manifest.find(ModelKind::SpeechDecoder),
    ) else {
        tracing::warn!(
            "speech is enabled but models/models.toml lacks a voice activity, speaker or \
             Whisper model: clips with sound will not be fully screened"
        );
        return Ok(None);
    };
    if let Some(language) = &cfg.language {
        // Refused at start, not on the first clip with speech: Whisper's own vocabulary says
        // which languages it knows.
        let files = whisper_data(&d.vision.manifest)?;
        let vocab = Vocabulary::load(&files.0, &files.1, u32::MAX)?;
        if vocab.language_id(language).is_none() {
            return Err(TranscribeError::UnknownLanguage(language.clone()).into());
        }
    }
    Ok(Some(Box::new(SpeechAnalyser {
        vision: d.vision.clone(),
        voices: voices.clone(),
        persons: d.persons.clone(),
        options: TranscribeOptions {
            language: cfg.language.clone(),
            context: if cfg.full_context {
                AudioContext::Full
            } else {
                AudioContext::Trimmed {
                    margin_frames: (cfg.context_margin_s.max(0.0) * 100.0).round() as usize,
                }
            },
        },
        models: vec![encoder.clone(), decoder.clone()],
        whisper: Mutex::new(None),
    })))
}

/// Whisper's tokenizer and model config, verified: (tokenizer, config).
fn whisper_data(m: &Manifest) -> Result<(PathBuf, PathBuf), AnalyserError> {
    let data = |name: &str| -> Result<PathBuf, AnalyserError> {
        m.data_file(name)?.map(Path::to_path_buf).ok_or_else(|| {
            AnalyserError::Vision(VisionError::Manifest {
                path: "models/models.toml".into(),
                reason: format!("speech needs the data file {name:?}"),
            })
        })
    };
    Ok((
        data("whisper-base-tokenizer")?,
        data("whisper-base-config")?,
    ))
}

pub struct SpeechAnalyser {
    vision: Arc<Vision>,
    voices: Arc<VoiceModels>,
    persons: Arc<LivePersons>,
    options: TranscribeOptions,
    /// Whisper's encoder and decoder, as the manifest declares them.
    models: Vec<ModelInfo>,
    /// Loaded on the first clip with speech.
    whisper: Mutex<Option<Arc<Transcriber>>>,
}

impl SpeechAnalyser {
    fn transcriber(&self) -> Result<Arc<Transcriber>, AnalyserError> {
        let mut slot = self.whisper.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let m = &self.vision.manifest;
        let (tokenizer, config) = whisper_data(m)?;
        let files = WhisperFiles {
            encoder: m.verified(m.get(ModelKind::SpeechEncoder).0)?.to_path_buf(),
            decoder: m.verified(m.get(ModelKind::SpeechDecoder).0)?.to_path_buf(),
            tokenizer,
            config,
        };
        let t = Arc::new(Transcriber::load(
            self.vision.runtime(),
            &files,
            self.options.clone(),
        )?);
        *slot = Some(t.clone());
        Ok(t)
    }

    /// One track: its speech, transcribed, and the enrolled voices it resembles.
    fn track(
        &self,
        track: &AudioTrack,
        persons: &crate::persons::Persons,
        timings: &mut StageTimings,
        out: &mut Speech,
    ) -> Result<(), AnalyserError> {
        let t0 = Instant::now();
        let probs = self.voices.vad.probabilities(&track.pcm)?;
        let heard = vad::spans(&probs, track.pcm.len(), &VadParams::default());
        let said = vad::spans(&probs, track.pcm.len(), &VadParams::TRANSCRIPTION);
        timings.add("vad", ms(t0));
        if heard.is_empty() || said.is_empty() {
            return Ok(());
        }
        let at = |s: f64| track.start_s + s;
        let t0 = Instant::now();
        let ranges: Vec<_> = said.iter().map(|s| s.start..s.end).collect();
        let transcript = self.transcriber()?.transcribe_spans(&track.pcm, &ranges)?;
        timings.add("transcribe", ms(t0));
        let speech_s = vad::speech_seconds(&heard);
        out.speech_s += speech_s;
        out.tracks.push(SpeechTrack {
            stream: track.index,
            language: transcript.language,
            language_prob: f64::from(transcript.language_prob),
            speech_s,
            spans: heard
                .iter()
                .map(|s| TimeSpan {
                    start_s: at(s.start_s()),
                    end_s: at(s.end_s()),
                })
                .collect(),
            segments: transcript
                .segments
                .into_iter()
                .map(|s| SpeechSegment {
                    start_s: at(s.start_s),
                    end_s: at(s.end_s),
                    text: s.text,
                    avg_logprob: f64::from(s.avg_logprob),
                    no_speech_prob: f64::from(s.no_speech_prob),
                })
                .collect(),
        });
        if persons.voices.is_empty() {
            return Ok(());
        }
        let t0 = Instant::now();
        let sha = &self.voices.encoder_model.sha256;
        for chunk in voice_chunks(&heard) {
            let Some(u) = self.voices.encoder.embed_speech(&track.pcm, chunk)? else {
                continue;
            };
            let (start_s, end_s) = (at(chunk[0].start_s()), at(chunk[chunk.len() - 1].end_s()));
            for m in persons.voices.matches(&u.embedding, sha) {
                let Some(p) = persons.people.get(&m.person) else {
                    continue;
                };
                let seen = VoiceSighting {
                    person_id: m.person,
                    name: p.name.clone(),
                    kind: p.kind,
                    allowed_users: p.allowed_users.clone(),
                    voice: m.voice,
                    score: f64::from(m.score),
                    stream: track.index,
                    start_s,
                    end_s,
                };
                match out.voices.iter_mut().find(|v| v.person_id == m.person) {
                    Some(v) if v.score >= seen.score => {}
                    Some(v) => *v = seen,
                    None => out.voices.push(seen),
                }
            }
        }
        timings.add("voices", ms(t0));
        Ok(())
    }
}

impl Analyser for SpeechAnalyser {
    fn name(&self) -> &'static str {
        KEY
    }

    fn input(&self) -> Input {
        Input::Audio {
            sample_rate: SAMPLE_RATE,
        }
    }

    fn listen(
        &self,
        audio: &AudioInput<'_>,
        timings: &mut StageTimings,
    ) -> Result<ClipFinding, AnalyserError> {
        let (_, persons) = self.persons.current()?;
        let mut speech = Speech::default();
        for track in audio.tracks {
            self.track(track, &persons, timings, &mut speech)?;
        }
        speech.voices.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(Box::new(move |s: &mut Signals| {
            s.sections.set(KEY, &speech)
        }))
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let s: Speech = match signals.sections.get(KEY) {
            Ok(s) => s,
            Err(e) => return vec![format!("speech: {e}")],
        };
        if s.tracks.is_empty() {
            return vec!["speech: none heard".into()];
        }
        let mut out = vec![format!("speech: {:.1} s", s.speech_s)];
        for t in &s.tracks {
            out.push(format!(
                "  audio stream {} ({}, p {:.2}):",
                t.stream, t.language, t.language_prob
            ));
            out.extend(t.segments.iter().map(|g| {
                format!(
                    "    {:>6.2}-{:<6.2} s {}",
                    g.start_s,
                    g.end_s,
                    g.text.trim()
                )
            }));
        }
        out.extend(s.persons.iter().map(|m| {
            format!(
                "  names {} (\"{}\", score {:.2}) at {:.2} s",
                m.name, m.text, m.score, m.start_s
            )
        }));
        out.extend(s.terms.iter().map(|t| {
            format!(
                "  says {} term \"{}\" at {:.2} s",
                t.category, t.text, t.start_s
            )
        }));
        out.extend(s.voices.iter().map(|v| {
            format!(
                "  voice like {} ({:.3}) at {:.2}-{:.2} s",
                v.name, v.score, v.start_s, v.end_s
            )
        }));
        out
    }

    fn models(&self) -> Vec<ModelInfo> {
        let mut m = vec![
            self.voices.vad_model.clone(),
            self.voices.encoder_model.clone(),
        ];
        m.extend(self.models.iter().cloned());
        m
    }
}

/// Neighbouring speech spans gathered into stretches of `VOICE_CHUNK_MIN_S` to about
/// `VOICE_CHUNK_MAX_S` of speech; a last stretch too short joins the one before it (and alone,
/// it is not embedded).
fn voice_chunks(spans: &[SpeechSpan]) -> Vec<&[SpeechSpan]> {
    let secs = |s: &SpeechSpan| s.len() as f64 / f64::from(SAMPLE_RATE);
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    let (mut start, mut len) = (0, 0.0);
    for (i, s) in spans.iter().enumerate() {
        len += secs(s);
        if len >= VOICE_CHUNK_MAX_S {
            bounds.push((start, i + 1));
            (start, len) = (i + 1, 0.0);
        }
    }
    if start < spans.len() {
        match bounds.last_mut() {
            _ if len >= VOICE_CHUNK_MIN_S => bounds.push((start, spans.len())),
            Some(last) => last.1 = spans.len(),
            None => {}
        }
    }
    bounds.into_iter().map(|(a, b)| &spans[a..b]).collect()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Speech everywhere: a name said, a listed term said, a voice matched.
fn sample() -> serde_json::Value {
    let seg = SpeechSegment {
        start_s: 0.5,
        end_s: 4.0,
        text: " Hello, this is Ada Lovelace.".into(),
        avg_logprob: -0.2,
        no_speech_prob: 0.01,
    };
    let at = TimeSpan {
        start_s: 0.5,
        end_s: 4.0,
    };
    let s = Speech {
        speech_s: 3.5,
        tracks: vec![SpeechTrack {
            stream: 1,
            language: "en".into(),
            language_prob: 0.98,
            speech_s: 3.5,
            spans: vec![at],
            segments: vec![seg.clone()],
        }],
        persons: vec![SpokenNameMatch {
            person_id: 1,
            name: "Ada Lovelace".into(),
            kind: PersonKind::PublicFigure,
            allowed_users: vec!["u".into()],
            alias: "Ada Lovelace".into(),
            strength: NameStrength::Full,
            score: 0.9,
            reasons: vec!["full_name".into()],
            exact: true,
            text: "Ada Lovelace".into(),
            segment: seg.text.trim().into(),
            stream: 1,
            start_s: 0.5,
            end_s: 4.0,
        }],
        terms: vec![SpokenTermMatch {
            category: "sexual".into(),
            term: "nude".into(),
            text: "nude".into(),
            segment: seg.text.trim().into(),
            stream: 1,
            start_s: 0.5,
            end_s: 4.0,
        }],
        categories: vec!["minors".into(), "sexual".into()],
        voices: vec![VoiceSighting {
            person_id: 1,
            name: "Ada Lovelace".into(),
            kind: PersonKind::PublicFigure,
            allowed_users: vec!["u".into()],
            voice: 3,
            score: 0.95,
            stream: 1,
            start_s: 0.5,
            end_s: 4.0,
        }],
    };
    serde_json::to_value(s).expect("serialises")
}
