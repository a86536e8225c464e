//! The typed client's calls about the token lifetime policy: the
//! provider-wide default at `/api/token-policy` and an org's at
//! `/api/org/{id}/token-policy`, read, written, and the tokens beyond it.

use serde::{Deserialize, Serialize};

use super::super::wire::Response;
use super::{Call, Client};

/// A token lifetime policy's fields, as written (`None`: inherited, and
/// left out of a request) or in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_never: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_idle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_bound_cidrs: Option<bool>,
}

impl TokenPolicy {
    pub fn default_ttl(mut self, ttl: &str) -> TokenPolicy {
        self.default_ttl = Some(ttl.to_owned());
        self
    }

    pub fn max_ttl(mut self, ttl: &str) -> TokenPolicy {
        self.max_ttl = Some(ttl.to_owned());
        self
    }

    pub fn allow_never(mut self, allow: bool) -> TokenPolicy {
        self.allow_never = Some(allow);
        self
    }

    pub fn max_idle(mut self, idle: &str) -> TokenPolicy {
        self.max_idle = Some(idle.to_owned());
        self
    }

    pub fn require_bound_cidrs(mut self, required: bool) -> TokenPolicy {
        self.require_bound_cidrs = Some(required);
        self
    }
}

/// `GET`/`PUT /api/token-policy` and `/api/org/{id}/token-policy`: the
/// policy as written and the policy in force.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyView {
    pub policy: TokenPolicy,
    pub effective: TokenPolicy,
}

/// The tokens an org's policy would not allow today.
#[derive(Debug, Clone, Deserialize)]
pub struct Exceeding {
    pub tokens: Vec<ExceedingToken>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExceedingToken {
    pub id: String,
}

impl Exceeding {
    pub fn ids(&self) -> Vec<&str> {
        self.tokens.iter().map(|t| t.id.as_str()).collect()
    }
}

/// `/api/token-policy`, or `/api/org/{id}/token-policy`.
fn policy_path(org: Option<&str>) -> String {
    match org {
        None => "/api/token-policy".to_owned(),
        Some(id) => format!("/api/org/{id}/token-policy"),
    }
}

impl Client {
    /// `GET /api/token-policy` (`org` `None`) or an org's, by id.
    pub fn token_policy(&self, jwt: &str, org: Option<&str>) -> PolicyView {
        let call = Call::get("token_policy", policy_path(org)).bearer(jwt);
        self.expect(self.send(call), 200)
    }

    /// `PUT /api/token-policy` (`org` `None`) or an org's, by id.
    pub fn try_set_token_policy(
        &self,
        jwt: &str,
        org: Option<&str>,
        policy: &TokenPolicy,
    ) -> Response {
        let call = Call::put("set_token_policy", policy_path(org)).bearer(jwt);
        self.send(call.json(policy))
    }

    pub fn set_token_policy(
        &self,
        jwt: &str,
        org: Option<&str>,
        policy: &TokenPolicy,
    ) -> PolicyView {
        self.expect(self.try_set_token_policy(jwt, org, policy), 200)
    }

    /// `GET /api/org/{id}/token-policy/exceeding`.
    pub fn exceeding_tokens(&self, jwt: &str, org: &str) -> Exceeding {
        let path = format!("{}/exceeding", policy_path(Some(org)));
        self.expect(
            self.send(Call::get("exceeding_tokens", path).bearer(jwt)),
            200,
        )
    }
}
