//! The answer a handler gives, independent of the HTTP library.

use serde_json::Value;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn no_content() -> Response {
        Response {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
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
