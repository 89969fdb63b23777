//! clipguard screens AI-generated video before it is published: it finds unsafe content and
//! faces (for public figures' likeness) with ONNX models, and reports what it saw as `Signals`.
//!
//! The CLI, the HTTP server, the audit, the tests and the benchmarks all check through
//! [`service::CheckService`], built by [`service::Context`].

pub mod analysers;
pub mod attest;
pub mod audit;
pub mod banks;
pub mod callbacks;
pub mod categories;
pub mod config;
pub mod digest;
pub mod http;
pub mod logs;
pub mod meaning;
pub mod media;
pub mod metrics;
pub mod objects;
pub mod persons;
pub mod policy;
pub mod screen;
pub mod service;
pub mod speech;
pub mod store;
pub mod text;
pub mod traces;
pub mod vision;
pub mod vocab;

pub use config::Config;
pub use screen::Screener;
pub use vocab::Signals;
