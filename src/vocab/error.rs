//! What kind of failure an error is. Every library error names its kind beside its stable
//! code, so the HTTP layer maps kinds to statuses in one exhaustive match and never looks at
//! messages.

/// The kinds of failure, by who can do something about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (a bad URI, field or value).
    BadInput,
    /// The request names something it may not (a path outside the allowed roots).
    Forbidden,
    NotFound,
    /// The request contradicts what is stored (a decision already reviewed).
    Conflict,
    /// Over a size limit.
    TooLarge,
    /// Not the kind of content accepted (not a video).
    UnsupportedType,
    /// Well-formed but unusable content (a corrupt clip, a policy that does not load).
    Unprocessable,
    /// Busy, past the deadline or shutting down: trying again later may work.
    Unavailable,
    /// A service clipguard depends on failed (the object store).
    Upstream,
    /// clipguard's own failure (inference, the database, a file it writes).
    Internal,
}

/// A library error with a stable, machine-readable code and a kind.
pub trait Failure: std::error::Error {
    fn code(&self) -> &'static str;
    fn kind(&self) -> ErrorKind;
    /// For an unavailable service: seconds after which trying again is likely to work.
    fn retry_after_s(&self) -> Option<u64> {
        None
    }
}
