//! The one place where errors become HTTP answers: the JSON error of the
//! native API (`{"error", "message"}`) and the RFC 6749 §5.2 error of the
//! token endpoints (`{"error", "error_description"}`, never cached).
//! Internal faults are logged here and reach the client only as a bare 500.

use serde_json::json;

use super::response::Response;
use crate::domain::{DomainError, DpopRefusal, DPOP_ALGORITHMS};

/// A request that could not be parsed.
#[derive(Debug)]
pub enum BadRequest {
    /// Past the route's body limit (bytes).
    TooLarge(usize),
    Malformed(String),
}

/// The header a login's second factor comes in.
pub const OTP_HEADER: &str = "X-Tokend-OTP";

#[derive(Debug)]
pub struct ApiError {
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) headers: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(404, "not_found", "no such resource")
    }

    pub fn method_not_allowed(allow: &str) -> ApiError {
        let mut e = ApiError::new(
            405,
            "method_not_allowed",
            "method not allowed on this resource",
        );
        e.headers.push(("Allow", allow.to_string()));
        e
    }

    /// The client did not send its request in time.
    pub fn request_timeout() -> ApiError {
        ApiError::new(
            408,
            "request_timeout",
            "the request was not received in time",
        )
    }

    /// The workers' queue is full.
    pub fn overloaded() -> ApiError {
        let mut e = ApiError::new(503, "unavailable", "the service is overloaded; retry later");
        e.headers.push(("Retry-After", RETRY_AFTER_SECONDS.into()));
        e
    }

    /// The service is stopping.
    pub fn stopping() -> ApiError {
        ApiError::new(503, "unavailable", "the service is stopping")
    }

    /// A login that needs (other) Basic credentials.
    pub fn login_required() -> ApiError {
        let mut e = ApiError::new(401, "unauthorized", "invalid credentials");
        e.headers
            .push(("WWW-Authenticate", r#"Basic realm="tokend""#.into()));
        e
    }

    /// The client asked for a form or a version this resource does not have.
    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(406, "not_acceptable", message)
    }

    pub fn into_response(self) -> Response {
        let mut response = Response::json(
            self.status,
            &json!({ "error": self.code, "message": self.message }),
        );
        response.headers.extend(self.headers);
        response
    }
}

impl From<BadRequest> for ApiError {
    fn from(e: BadRequest) -> Self {
        match e {
            BadRequest::TooLarge(limit) => ApiError::new(
                413,
                "payload_too_large",
                format!("the request body exceeds {limit} bytes"),
            ),
            BadRequest::Malformed(message) => ApiError::new(400, "invalid_request", message),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(m) => ApiError::new(400, "invalid_request", m),
            DomainError::InvalidCredentials => ApiError::login_required(),
            DomainError::LoginLocked(seconds) => {
                let mut e = ApiError::new(
                    429,
                    "too_many_requests",
                    DomainError::LoginLocked(seconds).to_string(),
                );
                e.headers.push(("Retry-After", seconds.to_string()));
                e
            }
            DomainError::RateLimited(seconds) => {
                let mut e = ApiError::new(
                    429,
                    "too_many_requests",
                    DomainError::RateLimited(seconds).to_string(),
                );
                e.headers.push(("Retry-After", seconds.to_string()));
                e
            }
            DomainError::SecondFactorRequired(_) => {
                let mut e = ApiError::new(401, "second_factor_required", e.to_string());
                // As GitHub's X-GitHub-OTP: required.
                e.headers.push((OTP_HEADER, "required".into()));
                e
            }
            DomainError::InvalidSecondFactor => {
                ApiError::new(401, "invalid_second_factor", e.to_string())
            }
            DomainError::SecondFactorEnrolmentRequired => {
                ApiError::new(403, "second_factor_enrolment_required", e.to_string())
            }
            DomainError::Unauthenticated(m) => {
                let mut e = ApiError::new(401, "unauthorized", m);
                e.headers.push((
                    "WWW-Authenticate",
                    r#"Bearer realm="tokend", error="invalid_token""#.into(),
                ));
                e
            }
            DomainError::Forbidden(m) => ApiError::new(403, "forbidden", m),
            DomainError::NotFound(m) => ApiError::new(404, "not_found", m),
            DomainError::Conflict(m) => ApiError::new(409, "conflict", m),
            DomainError::InvalidGrant(m) => ApiError::new(400, "invalid_grant", m),
            DomainError::InvalidTarget(m) => ApiError::new(400, "invalid_target", m),
            DomainError::DeviceFlow(e) => ApiError::new(400, e.code(), e.description()),
            // RFC 9449 §7.1, §9: a DPoP challenge naming the error.
            DomainError::Dpop(refusal) => {
                let code = match refusal {
                    DpopRefusal::InvalidToken(_) => "unauthorized",
                    _ => refusal.code(),
                };
                let mut e = ApiError::new(401, code, refusal.description());
                e.headers
                    .push(("WWW-Authenticate", dpop_challenge(&refusal)));
                if let DpopRefusal::UseNonce(nonce) = refusal {
                    e.headers.push((DPOP_NONCE_HEADER, nonce));
                }
                e
            }
            DomainError::Unavailable(m) => unavailable(&m),
            DomainError::Internal(m) => internal(&m),
        }
    }
}

/// How long a client should wait before retrying a request the database
/// could not take.
const RETRY_AFTER_SECONDS: &str = "1";

/// The header that gives a client the DPoP nonce to use (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";

/// `WWW-Authenticate: DPoP` (RFC 9449 §7.1): the error, its description
/// (tokend's own text: no quote or backslash) and the algorithms a proof
/// may use.
fn dpop_challenge(refusal: &DpopRefusal) -> String {
    format!(
        r#"DPoP error="{}", error_description="{}", algs="{}""#,
        refusal.code(),
        refusal.description(),
        DPOP_ALGORITHMS.join(" ")
    )
}

fn unavailable(detail: &str) -> ApiError {
    crate::logging::warn(format!("tokend: unavailable: {detail}"));
    let mut e = ApiError::new(
        503,
        "unavailable",
        "the service cannot take this request now; retry later",
    );
    e.headers.push(("Retry-After", RETRY_AFTER_SECONDS.into()));
    e
}

fn internal(detail: &str) -> ApiError {
    crate::logging::error(format!("tokend: internal error: {detail}"));
    ApiError::new(500, "internal_error", "internal error; see the server log")
}

/// An error at a token endpoint, in the RFC 6749 §5.2 shape.
#[derive(Debug)]
pub struct OAuthError {
    status: u16,
    code: &'static str,
    description: String,
    retry_after: bool,
    headers: Vec<(&'static str, String)>,
}

impl OAuthError {
    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: 400,
            code: "invalid_request",
            description: description.into(),
            retry_after: false,
            headers: Vec::new(),
        }
    }

    /// RFC 6749 §5.2: the client (a resource server at the introspection
    /// endpoint) failed to authenticate.
    pub fn invalid_client() -> OAuthError {
        OAuthError {
            status: 401,
            code: "invalid_client",
            ..OAuthError::invalid_request("invalid client credentials")
        }
    }

    pub fn unsupported_response_type() -> OAuthError {
        OAuthError {
            code: "unsupported_response_type",
            ..OAuthError::invalid_request(
                "tokend has no authorization flow: exchange an API token at the token endpoint",
            )
        }
    }

    pub fn unsupported_grant_type(grant_type: &str) -> OAuthError {
        OAuthError {
            code: "unsupported_grant_type",
            ..OAuthError::invalid_request(format!(
                "grant_type {grant_type:?} is not supported; use refresh_token"
            ))
        }
    }

    pub fn into_response(self) -> Response {
        let mut response = Response::json(
            self.status,
            &json!({ "error": self.code, "error_description": self.description }),
        )
        .no_store();
        response.headers.extend(self.headers);
        if self.status == 401 {
            response = response.with_header("WWW-Authenticate", r#"Basic realm="tokend""#);
        }
        if self.retry_after {
            response.with_header("Retry-After", RETRY_AFTER_SECONDS)
        } else {
            response
        }
    }
}

impl From<BadRequest> for OAuthError {
    fn from(e: BadRequest) -> Self {
        match e {
            BadRequest::TooLarge(limit) => OAuthError {
                status: 413,
                ..OAuthError::invalid_request(format!("the request body exceeds {limit} bytes"))
            },
            BadRequest::Malformed(m) => OAuthError::invalid_request(m),
        }
    }
}

impl From<DomainError> for OAuthError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidGrant(m) => OAuthError {
                code: "invalid_grant",
                ..OAuthError::invalid_request(m)
            },
            DomainError::InvalidTarget(m) => OAuthError {
                code: "invalid_target",
                ..OAuthError::invalid_request(m)
            },
            DomainError::DeviceFlow(e) => OAuthError {
                code: e.code(),
                ..OAuthError::invalid_request(e.description())
            },
            // RFC 9449 §5 and §8: 400 at the token endpoint, the nonce to
            // use in DPoP-Nonce.
            DomainError::Dpop(refusal) => {
                let mut e = OAuthError {
                    code: match refusal {
                        DpopRefusal::UseNonce(_) => "use_dpop_nonce",
                        _ => "invalid_dpop_proof",
                    },
                    ..OAuthError::invalid_request(refusal.description())
                };
                if let DpopRefusal::UseNonce(nonce) = refusal {
                    e.headers.push((DPOP_NONCE_HEADER, nonce));
                }
                e
            }
            DomainError::Unavailable(m) => {
                let api = unavailable(&m);
                OAuthError {
                    status: api.status,
                    code: "temporarily_unavailable",
                    description: api.message,
                    retry_after: true,
                    headers: Vec::new(),
                }
            }
            DomainError::Internal(m) => {
                let api = internal(&m);
                OAuthError {
                    status: api.status,
                    code: "server_error",
                    ..OAuthError::invalid_request(api.message)
                }
            }
            DomainError::Invalid(_)
            | DomainError::RateLimited(_)
            | DomainError::InvalidCredentials
            | DomainError::SecondFactorRequired(_)
            | DomainError::InvalidSecondFactor
            | DomainError::SecondFactorEnrolmentRequired
            | DomainError::LoginLocked(_)
            | DomainError::Unauthenticated(_)
            | DomainError::Forbidden(_)
            | DomainError::NotFound(_)
            | DomainError::Conflict(_) => OAuthError::invalid_request(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_database_is_503_with_retry_after_in_both_dialects() {
        let api = ApiError::from(DomainError::Unavailable("busy".into())).into_response();
        assert_eq!(api.status, 503);
        assert!(api.headers.contains(&("Retry-After", "1".into())));
        let oauth = OAuthError::from(DomainError::Unavailable("busy".into())).into_response();
        assert_eq!(oauth.status, 503);
        assert!(oauth.headers.contains(&("Retry-After", "1".into())));
        assert!(oauth
            .headers
            .contains(&("Cache-Control", "no-store".into())));
        let body: serde_json::Value = serde_json::from_slice(&oauth.body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(
            !String::from_utf8_lossy(&oauth.body).contains("busy"),
            "no detail leaks"
        );
    }
}
