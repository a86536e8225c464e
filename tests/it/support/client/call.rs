//! How the typed client sends a call and reports its failure: a `Call` is
//! the request (method, path, credentials, body); `Client::send` sends it
//! and keeps, in the answer, what was sent; `Client::expect` and its
//! siblings assert the documented status and a JSON answer. When the answer
//! is another, the panic names the client method, the request (passwords,
//! tokens and secrets by their length only), the whole answer and, for a
//! `TestServer`'s client, the tail of the server's log.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::wire::{basic, bearer, Response, Sent};
use super::super::FORM;
use super::{Client, Page};

#[derive(Deserialize)]
struct RawPage {
    page: u64,
    #[serde(rename = "pageSize")]
    page_size: u64,
    total: u64,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// Fields of a request body shown by their length only.
const SECRET_FIELDS: [&str; 9] = [
    "password",
    "current_password",
    "new_password",
    "token",
    "refresh_token",
    "device_code",
    "assertion",
    "client_secret",
    "secret",
];

fn hidden(value: &str) -> String {
    format!("<{} characters, hidden>", value.chars().count())
}

/// A JSON body with its secrets hidden, for a failure message.
fn redacted_json(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if SECRET_FIELDS.contains(&k.as_str()) => {
                            Value::String(hidden(s))
                        }
                        other => redacted_json(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted_json).collect()),
        other => other.clone(),
    }
}

/// A form body with its secrets hidden, for a failure message.
fn redacted_form(body: &str) -> String {
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if SECRET_FIELDS.contains(&k) => format!("{k}={}", hidden(v)),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// How a typed call authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Basic(&'a str, &'a str),
}

enum Body {
    None,
    /// `Content-Length: 0` and no `Content-Type`.
    Empty,
    Json(Value),
    Form(String),
}

/// One request of a typed call: what it sends, and what to say about it
/// when the answer is not the one expected.
pub(super) struct Call<'a> {
    /// The client method, to name in a failure.
    name: &'static str,
    method: &'static str,
    path: String,
    auth: Auth<'a>,
    body: Body,
}

impl<'a> Call<'a> {
    pub(super) fn new(
        name: &'static str,
        method: &'static str,
        path: impl Into<String>,
    ) -> Call<'a> {
        Call {
            name,
            method,
            path: path.into(),
            auth: Auth::None,
            body: Body::None,
        }
    }

    pub(super) fn get(name: &'static str, path: impl Into<String>) -> Call<'a> {
        Call::new(name, "GET", path)
    }

    pub(super) fn post(name: &'static str, path: impl Into<String>) -> Call<'a> {
        Call::new(name, "POST", path)
    }

    pub(super) fn put(name: &'static str, path: impl Into<String>) -> Call<'a> {
        Call::new(name, "PUT", path)
    }

    pub(super) fn delete(name: &'static str, path: impl Into<String>) -> Call<'a> {
        Call::new(name, "DELETE", path)
    }

    pub(super) fn bearer(mut self, jwt: &'a str) -> Call<'a> {
        self.auth = Auth::Bearer(jwt);
        self
    }

    pub(super) fn basic(mut self, user: &'a str, password: &'a str) -> Call<'a> {
        self.auth = Auth::Basic(user, password);
        self
    }

    pub(super) fn json(mut self, body: impl Serialize) -> Call<'a> {
        let body = serde_json::to_value(body).expect("a request body serialises");
        self.body = Body::Json(body);
        self
    }

    pub(super) fn form(mut self, body: String) -> Call<'a> {
        self.body = Body::Form(body);
        self
    }

    /// An empty body, without a `Content-Type`.
    pub(super) fn empty(mut self) -> Call<'a> {
        self.body = Body::Empty;
        self
    }

    /// The request as a failure message shows it: never a password, an
    /// access token or a secret in full.
    pub(super) fn describe(&self) -> String {
        let mut text = format!("{} {}", self.method, self.path);
        match self.auth {
            Auth::None => {}
            Auth::Bearer(jwt) => {
                text.push_str(&format!("\n  Authorization: Bearer {}", hidden(jwt)))
            }
            Auth::Basic(user, password) => text.push_str(&format!(
                "\n  Authorization: Basic {user}:{}",
                hidden(password)
            )),
        }
        match &self.body {
            Body::None | Body::Empty => {}
            Body::Json(body) => text.push_str(&format!("\n  body: {}", redacted_json(body))),
            Body::Form(body) => text.push_str(&format!("\n  body: {}", redacted_form(body))),
        }
        text
    }
}

/// How many of the server's last log lines a failure quotes.
const LOG_TAIL: usize = 40;

impl Client {
    /// Send a typed call's request; the answer, whatever it is, remembers
    /// what was sent.
    pub(super) fn send(&self, call: Call<'_>) -> Response {
        let auth = match call.auth {
            Auth::None => None,
            Auth::Bearer(jwt) => Some(bearer(jwt)),
            Auth::Basic(user, password) => Some(basic(user, password)),
        };
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let body = match &call.body {
            Body::None => None,
            Body::Empty => Some(String::new()),
            Body::Json(body) => {
                headers.push(("Content-Type", "application/json"));
                Some(body.to_string())
            }
            Body::Form(body) => {
                headers.push(("Content-Type", FORM));
                Some(body.clone())
            }
        };
        let mut r = self.request(
            call.method,
            &call.path,
            &headers,
            body.as_deref().map(str::as_bytes),
        );
        r.sent = Some(Sent {
            name: call.name,
            request: call.describe(),
        });
        r
    }

    /// Panics with what was sent, the answer and the server's log.
    pub(super) fn fail(&self, r: &Response, problem: &str) -> ! {
        let log = match &self.log {
            Some(log) => {
                // The server's log is read from its pipes by other threads:
                // give them a moment to catch up with this answer.
                std::thread::sleep(Duration::from_millis(100));
                format!(
                    "\nserver log, last {LOG_TAIL} lines:\n{}",
                    log.tail(LOG_TAIL)
                )
            }
            None => String::new(),
        };
        let (name, request) = match &r.sent {
            Some(sent) => (sent.name, sent.request.as_str()),
            None => ("a raw request", "(not recorded)"),
        };
        panic!(
            "{name}: {problem}\nrequest: {request}\nresponse: {}{log}",
            r.describe()
        )
    }

    /// Assert that `r` has `status`.
    pub(super) fn expect_status(&self, r: Response, status: u16) -> Response {
        if r.status != status {
            self.fail(&r, &format!("expected HTTP {status}, got {}", r.status));
        }
        r
    }

    /// Assert that `r` has `status` and a JSON body, and decode it.
    pub(super) fn expect<T: DeserializeOwned>(&self, r: Response, status: u16) -> T {
        let r = self.expect_status(r, status);
        let content_type = r.header("Content-Type").unwrap_or("");
        if !content_type
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            self.fail(&r, "expected a JSON answer");
        }
        serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            self.fail(
                &r,
                &format!("the body is not a {}: {e}", std::any::type_name::<T>()),
            )
        })
    }

    /// Assert that `r` is a 200 page of a listing, and read the entries
    /// under `key`.
    pub(super) fn page<T: DeserializeOwned>(&self, r: Response, key: &str) -> Page<T> {
        let mut raw: RawPage = self.expect(r.clone(), 200);
        let items = raw.rest.remove(key).unwrap_or(Value::Null);
        let items = serde_json::from_value(items).unwrap_or_else(|e| {
            let list = std::any::type_name::<T>();
            self.fail(&r, &format!("{key:?} is not a list of {list}: {e}"))
        });
        Page {
            items,
            page: raw.page,
            page_size: raw.page_size,
            total: raw.total,
        }
    }
}
