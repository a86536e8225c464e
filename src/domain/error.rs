//! The domain's one error type: what went wrong, in terms a client can be told.
//! The HTTP layer maps each variant to a status in one place.

use std::fmt;

use crate::domain::storage::StoreError;

#[derive(Debug)]
pub enum DomainError {
    /// The request itself is wrong (bad name, bad ttl, ...).
    Invalid(String),
    /// Login failed; deliberately silent on whether the user exists.
    InvalidCredentials,
    /// Too many failed logins for this name: retry after this many seconds.
    LoginLocked(i64),
    /// Too many requests from this client: retry after this many seconds.
    RateLimited(i64),
    /// The password was right; the second factor's code is missing. Holds
    /// the handle of the pending login (the console's second step), never
    /// shown in a message.
    SecondFactorRequired(String),
    /// The password was right; the second factor's code was wrong, used
    /// already, or replayed.
    InvalidSecondFactor,
    /// A session that may only enrol a second factor asked for something
    /// else.
    SecondFactorEnrolmentRequired,
    /// No usable access token.
    Unauthenticated(String),
    /// Authenticated, but not allowed.
    Forbidden(String),
    /// Unknown, or not visible to the caller.
    NotFound(String),
    Conflict(String),
    /// An API token could not be exchanged (RFC 6749 `invalid_grant`).
    InvalidGrant(&'static str),
    /// The audience or resource asked for cannot be (RFC 8707
    /// `invalid_target`).
    InvalidTarget(String),
    /// A device code that cannot be exchanged (yet): RFC 8628 §3.5.
    DeviceFlow(DeviceFlowError),
    /// A DPoP proof, or a DPoP-bound access token, is refused (RFC 9449).
    Dpop(DpopRefusal),
    /// The database cannot take the request now (busy, disk full,
    /// read-only); the client may retry later.
    Unavailable(String),
    /// A fault on our side; the text goes to the log, not to the client.
    Internal(String),
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainError::Invalid(m)
            | DomainError::Unauthenticated(m)
            | DomainError::Forbidden(m)
            | DomainError::NotFound(m)
            | DomainError::Conflict(m)
            | DomainError::InvalidTarget(m)
            | DomainError::Unavailable(m)
            | DomainError::Internal(m) => f.write_str(m),
            DomainError::InvalidCredentials => f.write_str("invalid credentials"),
            DomainError::SecondFactorRequired(_) => f.write_str(
                "a second factor is required: send the authenticator's code (or a recovery code) in X-Tokend-OTP",
            ),
            DomainError::InvalidSecondFactor => {
                f.write_str("the second factor's code is wrong or was used already")
            }
            DomainError::SecondFactorEnrolmentRequired => f.write_str(
                "this user must enrol a second factor first: POST /api/users/me/2fa, then confirm it",
            ),
            DomainError::LoginLocked(seconds) => write!(
                f,
                "too many failed logins for this user; retry in {seconds} seconds"
            ),
            DomainError::RateLimited(seconds) => write!(
                f,
                "too many requests from this address; retry in {seconds} seconds"
            ),
            DomainError::InvalidGrant(m) => f.write_str(m),
            DomainError::DeviceFlow(e) => f.write_str(e.description()),
            DomainError::Dpop(e) => f.write_str(e.description()),
        }
    }
}

impl std::error::Error for DomainError {}

/// Why the token endpoint cannot answer a device code with a token, in the
/// words of RFC 8628 §3.5.
/// Why a DPoP proof or a DPoP-bound access token is refused: each is an
/// error code of RFC 9449 (§5, §7.1, §8, §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRefusal {
    /// `invalid_dpop_proof`: the proof is malformed, its signature or a
    /// claim does not hold for the request, or it was used before.
    InvalidProof(String),
    /// `use_dpop_nonce`: a nonce of tokend's is required; this one.
    UseNonce(String),
    /// `invalid_token`: a DPoP-bound access token came without a proof by
    /// its key (as Bearer, or with another key's proof), or an unbound one
    /// with the DPoP scheme.
    InvalidToken(String),
}

impl DpopRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            DpopRefusal::InvalidProof(_) => "invalid_dpop_proof",
            DpopRefusal::UseNonce(_) => "use_dpop_nonce",
            DpopRefusal::InvalidToken(_) => "invalid_token",
        }
    }

    pub fn description(&self) -> &str {
        match self {
            DpopRefusal::InvalidProof(m) | DpopRefusal::InvalidToken(m) => m,
            DpopRefusal::UseNonce(_) => "a DPoP nonce is required: use the one in DPoP-Nonce",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceFlowError {
    /// No admin has decided yet.
    AuthorizationPending,
    /// Polled faster than the interval; the interval grows by 5 seconds.
    SlowDown,
    /// An admin denied the request.
    AccessDenied,
    /// The device code expired before an admin granted it.
    ExpiredToken,
}

impl DeviceFlowError {
    /// The RFC 8628 error code.
    pub fn code(self) -> &'static str {
        match self {
            DeviceFlowError::AuthorizationPending => "authorization_pending",
            DeviceFlowError::SlowDown => "slow_down",
            DeviceFlowError::AccessDenied => "access_denied",
            DeviceFlowError::ExpiredToken => "expired_token",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            DeviceFlowError::AuthorizationPending => "an admin has not decided on this request yet",
            DeviceFlowError::SlowDown => {
                "polling too fast: wait the interval, now 5 seconds longer"
            }
            DeviceFlowError::AccessDenied => "an admin denied this request",
            DeviceFlowError::ExpiredToken => "the device code has expired; request a new one",
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Duplicate => DomainError::Conflict("it already exists".into()),
            StoreError::Conflict => {
                DomainError::Conflict("it was changed meanwhile; read it again".into())
            }
            StoreError::Missing(what) => DomainError::Invalid(format!("{what} does not exist")),
            StoreError::Unstorable(why) => DomainError::Invalid(why.clone()),
            StoreError::Retry
            | StoreError::Busy
            | StoreError::Unreachable(_)
            | StoreError::Full
            | StoreError::ReadOnly => DomainError::Unavailable(e.to_string()),
            StoreError::TooNew { .. } | StoreError::NotTokend | StoreError::Failed(_) => {
                DomainError::Internal(e.to_string())
            }
        }
    }
}
