//! API keys with roles. Keys are random and long, so a plain sha256 is the right stored form
//! (no salt or slow hash needed): the configuration never holds a usable key.

use super::error::ApiError;
use crate::config::{ApiKey, Role};
use crate::vocab::ErrorCode;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::{ready, Ready};

/// The configured keys, by their sha256.
pub struct Keys(HashMap<String, ApiKey>);

impl Keys {
    pub fn new(keys: &[ApiKey]) -> Self {
        Self(
            keys.iter()
                .map(|k| (k.sha256.to_lowercase(), k.clone()))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key: `cg_` and 64 hex digits (256 bits).
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random generator works");
    format!("cg_{}", hex::encode(bytes))
}

/// Who is calling. With no keys configured (loopback only) everyone is a local admin.
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The key's default callback URL (`server.api_keys[].callback_url`), already checked
    /// against the allow-list when the server started.
    pub callback_url: Option<String>,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            crate::metrics::rejected(ErrorCode::Forbidden.as_str());
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "key {:?} has role {}; this needs {} or above",
                    self.name,
                    self.role.as_str(),
                    role.as_str()
                ),
            ))
        }
    }
}

fn presented(req: &HttpRequest) -> Option<&str> {
    let h = req.headers();
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| h.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let keys = req
            .app_data::<web::Data<Keys>>()
            .expect("keys are registered");
        if keys.is_empty() {
            return ready(Ok(Caller {
                name: "local".into(),
                role: Role::Admin,
                callback_url: None,
            }));
        }
        let unauthorized = |code, message: &str| {
            crate::metrics::rejected("unauthorized");
            ApiError::new(code, message)
        };
        ready(match presented(req) {
            None => Err(unauthorized(
                ErrorCode::MissingApiKey,
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            )),
            Some(k) => match keys.0.get(&hash_key(k)) {
                Some(key) => Ok(Caller {
                    name: key.name.clone(),
                    role: key.role,
                    callback_url: key.callback_url.clone(),
                }),
                None => Err(unauthorized(
                    ErrorCode::InvalidApiKey,
                    "the API key is not valid",
                )),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(Role::Admin > Role::Auditor && Role::Auditor > Role::Checker);
    }
}
