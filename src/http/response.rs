//! The answer a handler gives, independent of the HTTP library.

use serde_json::Value;

use crate::domain::{Commit, DomainError};

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// The commit this answer acknowledges: the transport sends the answer
    /// only once it is on disk, and the error answer instead if it fails.
    pub awaits: Option<AwaitedCommit>,
}

pub struct AwaitedCommit {
    pub commit: Commit,
    /// The answer (in the endpoint's dialect) when the commit fails.
    pub otherwise: fn(DomainError) -> Response,
}

impl Response {
    pub fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.to_string().into_bytes(),
            awaits: None,
        }
    }

    /// An answer with no body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            awaits: None,
        }
    }

    pub fn no_content() -> Response {
        Response {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
            awaits: None,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Holds this answer until `commit` is on disk.
    pub fn after(mut self, commit: Commit, otherwise: fn(DomainError) -> Response) -> Response {
        self.awaits = Some(AwaitedCommit { commit, otherwise });
        self
    }

    /// Token responses must not be cached anywhere (RFC 6749 §5.1).
    pub fn no_store(mut self) -> Response {
        self.headers
            .retain(|(name, _)| *name != "Cache-Control" && *name != "Pragma");
        self.with_header("Cache-Control", "no-store")
            .with_header("Pragma", "no-cache")
    }
}
