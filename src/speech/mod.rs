//! Sound: what is said in a clip's audio.
//!
//! [`whisper`] transcribes 16 kHz mono speech with OpenAI's Whisper (base), converted at set-up
//! from the CTranslate2 model faster-whisper uses and run through the process's ONNX Runtime.

pub mod whisper;
