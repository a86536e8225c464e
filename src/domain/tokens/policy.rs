//! Token lifetime policy: per org, with a provider-wide default. What a new
//! token's lifetime is when none is asked for, the longest one may be,
//! whether tokens that never expire are allowed, and how long a token may
//! go unused before it is revoked. An org's unset fields inherit the
//! default's, the default's unset fields tokend's built-in rules.
//!
//! An org's policy may only be stricter than the default, and what is in
//! force for an org is the stricter of the two at the moment a token is
//! made: a default tightened later binds every org at once. Changing a
//! policy never changes existing
//! tokens (except by the idle rule, which revokes): the tokens beyond it
//! can be listed. The policy may also require every new token to be bound
//! to networks; tokens made unbound before are listed, never broken.

use std::time::Duration;

use serde_json::json;

use crate::domain::audit::Actor;
use crate::domain::records::{ApiTokenListing, Org, TokenPolicy};
use crate::domain::tokens::api_token::{whole_minute_at_or_after, TokenLifetime, DEFAULT_LIFETIME};
use crate::domain::{Authority, Caller, DomainError, Right};

/// The key of the provider-wide default among the policies.
pub const DEFAULT_POLICY: &str = "*";
const BUILT_IN_MAX_TTL: &str = "5years";
/// The shortest idle limit: shorter would revoke tokens between runs of
/// the automation they serve.
const MIN_IDLE: Duration = Duration::from_secs(3600);
/// The longest grace a rotation may give the old secret, unless a policy
/// says otherwise: a day covers a nightly job that picks up the new one.
const DEFAULT_MAX_ROTATION_GRACE: &str = "24h";
/// No policy may allow more: a rotation is not a second lifetime.
const MAX_ROTATION_GRACE_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);
/// Tokens revoked for idleness in one write.
const IDLE_BATCH: u32 = 500;

/// The policy in force for an org: every field decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    pub default_ttl: String,
    pub max_ttl: String,
    pub allow_never: bool,
    /// None: tokens may go unused for ever.
    pub max_idle: Option<String>,
    /// Who must log in with a second factor.
    pub second_factor: SecondFactorRule,
    /// The longest grace a rotation may give the old secret (`0`: none).
    pub max_rotation_grace: String,
    /// Every new token must be bound to networks.
    pub require_bound_cidrs: bool,
}

/// Who must log in with a second factor, from the loosest to the
/// strictest: an org may only move to the right of the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecondFactorRule {
    Nobody,
    /// Users holding any right to manage others or the directory.
    Admins,
    Everyone,
}

impl SecondFactorRule {
    pub fn name(self) -> &'static str {
        match self {
            SecondFactorRule::Nobody => "nobody",
            SecondFactorRule::Admins => "admins",
            SecondFactorRule::Everyone => "everyone",
        }
    }

    pub fn parse(text: &str) -> Result<SecondFactorRule, DomainError> {
        match text {
            "nobody" => Ok(SecondFactorRule::Nobody),
            "admins" => Ok(SecondFactorRule::Admins),
            "everyone" => Ok(SecondFactorRule::Everyone),
            other => Err(DomainError::Invalid(format!(
                "second_factor is nobody, admins or everyone; not {other:?}"
            ))),
        }
    }
}

/// A policy and what it comes to.
#[derive(Debug, Clone)]
pub struct PolicyView {
    /// None for the provider-wide default.
    pub org: Option<Org>,
    pub own: TokenPolicy,
    pub effective: EffectivePolicy,
}

fn span(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// A grace: `0`, or a span.
pub(in crate::domain) fn grace_span(text: &str) -> Option<Duration> {
    match text.trim() {
        "0" => Some(Duration::ZERO),
        text => span(text),
    }
}

impl EffectivePolicy {
    fn merge(own: &TokenPolicy, inherited: &EffectivePolicy) -> EffectivePolicy {
        let max_idle = match own.max_idle.as_deref() {
            Some(idle) if idle.eq_ignore_ascii_case("none") => None,
            Some(idle) => Some(idle.to_string()),
            None => inherited.max_idle.clone(),
        };
        let mut merged = EffectivePolicy {
            default_ttl: inherited.default_ttl.clone(),
            max_ttl: own
                .max_ttl
                .clone()
                .unwrap_or_else(|| inherited.max_ttl.clone()),
            allow_never: own.allow_never.unwrap_or(inherited.allow_never),
            max_idle,
            second_factor: own
                .second_factor
                .as_deref()
                .and_then(|rule| SecondFactorRule::parse(rule).ok())
                .unwrap_or(inherited.second_factor),
            max_rotation_grace: own
                .max_rotation_grace
                .clone()
                .unwrap_or_else(|| inherited.max_rotation_grace.clone()),
            require_bound_cidrs: own
                .require_bound_cidrs
                .unwrap_or(inherited.require_bound_cidrs),
        };
        match &own.default_ttl {
            Some(ttl) => merged.default_ttl = ttl.clone(),
            // An inherited default this policy forbids gives way to its
            // maximum: "at most 90 days" makes tokens of 90 days by default.
            None if merged.lifetime(None, "").is_err() => {
                merged.default_ttl = merged.max_ttl.clone()
            }
            None => {}
        }
        merged
    }

    /// This policy held to `bound` wherever it is looser: an org's policy
    /// under the provider's default as it is now, so a default tightened
    /// after the org's policy was written binds that org at once.
    fn held_to(mut self, bound: &EffectivePolicy) -> EffectivePolicy {
        if self.max() > bound.max() {
            self.max_ttl = bound.max_ttl.clone();
        }
        self.allow_never &= bound.allow_never;
        self.second_factor = self.second_factor.max(bound.second_factor);
        if self.rotation_grace_limit() > bound.rotation_grace_limit() {
            self.max_rotation_grace = bound.max_rotation_grace.clone();
        }
        self.require_bound_cidrs |= bound.require_bound_cidrs;
        if let Some(bound_idle) = bound.idle_limit() {
            if self.idle_limit().is_none_or(|idle| idle > bound_idle) {
                self.max_idle = bound.max_idle.clone();
            }
        }
        if self.lifetime(None, "").is_err() {
            self.default_ttl = self.max_ttl.clone();
        }
        self
    }

    fn built_in() -> EffectivePolicy {
        EffectivePolicy {
            default_ttl: DEFAULT_LIFETIME.into(),
            max_ttl: BUILT_IN_MAX_TTL.into(),
            allow_never: true,
            max_idle: None,
            second_factor: SecondFactorRule::Nobody,
            max_rotation_grace: DEFAULT_MAX_ROTATION_GRACE.into(),
            require_bound_cidrs: false,
        }
    }

    /// The longest grace a rotation may give the old secret.
    pub fn rotation_grace_limit(&self) -> Duration {
        grace_span(&self.max_rotation_grace).unwrap_or(Duration::ZERO)
    }

    /// The lifetime a rotation gives the new token, as `ttl` takes it: the
    /// old token's (`None`: it never expired), held to this policy's
    /// maximum rather than refused, as GitLab caps a rotated token's.
    pub fn rotated_ttl(&self, lifetime: Option<i64>) -> String {
        let max = i64::try_from(self.max().as_secs()).unwrap_or(i64::MAX);
        match lifetime {
            None if self.allow_never => "never".into(),
            None => self.max_ttl.clone(),
            Some(seconds) if seconds > max => self.max_ttl.clone(),
            Some(seconds) => format!("{}s", seconds.max(60)),
        }
    }

    fn max(&self) -> Duration {
        span(&self.max_ttl).unwrap_or(Duration::MAX)
    }

    pub fn idle_limit(&self) -> Option<Duration> {
        self.max_idle.as_deref().and_then(span)
    }

    /// The lifetime of a new token that asked for `ttl` (None: the default),
    /// or why this policy refuses it.
    pub fn lifetime(
        &self,
        ttl: Option<&str>,
        org_name: &str,
    ) -> Result<TokenLifetime, DomainError> {
        let lifetime = TokenLifetime::parse(ttl.unwrap_or(&self.default_ttl))?;
        match lifetime {
            TokenLifetime::Never if !self.allow_never => Err(DomainError::Invalid(format!(
                "tokens that never expire are not allowed in org {org_name:?} (token policy: allow_never is false)"
            ))),
            TokenLifetime::For(span) if span > self.max() => Err(DomainError::Invalid(format!(
                "ttl {:?} is longer than org {org_name:?} allows (token policy: max_ttl is {})",
                ttl.unwrap_or(&self.default_ttl),
                self.max_ttl
            ))),
            lifetime => Ok(lifetime),
        }
    }

    /// Refuses a policy that contradicts itself.
    fn check(&self) -> Result<(), DomainError> {
        self.lifetime(None, "").map_err(|_| {
            DomainError::Invalid(format!(
                "default_ttl {:?} breaks the policy itself (max_ttl {:?}, allow_never {})",
                self.default_ttl, self.max_ttl, self.allow_never
            ))
        })?;
        Ok(())
    }

    /// Whether this policy is no looser than `bound` in any respect.
    fn within(&self, bound: &EffectivePolicy) -> Result<(), DomainError> {
        let looser = |what: &str| {
            Err(DomainError::Invalid(format!(
                "an org's policy may only be stricter than the provider's default: {what}"
            )))
        };
        if self.max() > bound.max() {
            return looser(&format!("max_ttl is at most {}", bound.max_ttl));
        }
        if self.allow_never && !bound.allow_never {
            return looser("tokens that never expire are not allowed");
        }
        if self.second_factor < bound.second_factor {
            return looser(&format!(
                "a second factor is required of {}",
                bound.second_factor.name()
            ));
        }
        if self.rotation_grace_limit() > bound.rotation_grace_limit() {
            return looser(&format!(
                "max_rotation_grace is at most {}",
                bound.max_rotation_grace
            ));
        }
        if bound.require_bound_cidrs && !self.require_bound_cidrs {
            return looser("every token must be bound to networks (require_bound_cidrs)");
        }
        if let Some(bound_idle) = bound.idle_limit() {
            if self.idle_limit().is_none_or(|idle| idle > bound_idle) {
                return looser(&format!(
                    "max_idle is at most {}",
                    bound.max_idle.as_deref().unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
}

impl TokenPolicy {
    /// Refuses fields that are not lifetimes tokend can keep.
    fn check_fields(&self) -> Result<(), DomainError> {
        if let Some(rule) = &self.second_factor {
            SecondFactorRule::parse(rule)?;
        }
        if let Some(grace) = &self.max_rotation_grace {
            if grace_span(grace).is_none_or(|d| d > MAX_ROTATION_GRACE_LIMIT) {
                return Err(DomainError::Invalid(format!(
                    "max_rotation_grace is 0 or a span of at most 30 days, such as 24h; not {grace:?}"
                )));
            }
        }
        if let Some(ttl) = &self.default_ttl {
            TokenLifetime::parse(ttl)
                .map_err(|e| DomainError::Invalid(format!("default_ttl: {e}")))?;
        }
        if let Some(max) = &self.max_ttl {
            match TokenLifetime::parse(max)
                .map_err(|e| DomainError::Invalid(format!("max_ttl: {e}")))?
            {
                TokenLifetime::Never => {
                    return Err(DomainError::Invalid(
                        "max_ttl is a span such as 90days; allow_never says whether tokens may never expire"
                            .into(),
                    ))
                }
                TokenLifetime::For(_) => {}
            }
        }
        if let Some(idle) = &self.max_idle {
            if !idle.eq_ignore_ascii_case("none") && span(idle).is_none_or(|d| d < MIN_IDLE) {
                return Err(DomainError::Invalid(format!(
                    "max_idle is a span of at least 1 hour, or none; not {idle:?}"
                )));
            }
        }
        Ok(())
    }
}

impl Authority {
    /// The provider-wide default in force.
    fn default_policy(&self) -> Result<EffectivePolicy, DomainError> {
        let own = self.db().token_policy(DEFAULT_POLICY)?.unwrap_or_default();
        Ok(EffectivePolicy::merge(&own, &EffectivePolicy::built_in()))
    }

    /// The policy in force for `org_id`.
    pub(in crate::domain) fn policy_of(
        &self,
        org_id: &str,
    ) -> Result<EffectivePolicy, DomainError> {
        let own = self.db().token_policy(org_id)?.unwrap_or_default();
        let default = self.default_policy()?;
        Ok(EffectivePolicy::merge(&own, &default).held_to(&default))
    }

    /// The provider-wide default (None) or an org's policy, as the caller
    /// may see it: every caller sees its own org's and the default.
    pub fn token_policy(
        &self,
        caller: &Caller,
        org_id: Option<&str>,
    ) -> Result<PolicyView, DomainError> {
        match org_id {
            None => self.policy_view(None),
            Some(id) => {
                let org = self.visible_org_by_id(caller, id)?;
                self.policy_view(Some(org))
            }
        }
    }

    /// The same, for the admin CLI: by org name.
    pub fn token_policy_of(&self, org_name: Option<&str>) -> Result<PolicyView, DomainError> {
        match org_name {
            None => self.policy_view(None),
            Some(name) => {
                let org = self.org(name)?;
                self.policy_view(Some(org))
            }
        }
    }

    fn policy_view(&self, org: Option<Org>) -> Result<PolicyView, DomainError> {
        let key = org.as_ref().map_or(DEFAULT_POLICY, |org| org.id.as_str());
        let own = self.db().token_policy(key)?.unwrap_or_default();
        let effective = match &org {
            None => EffectivePolicy::merge(&own, &EffectivePolicy::built_in()),
            Some(org) => self.policy_of(&org.id)?,
        };
        Ok(PolicyView {
            org,
            own,
            effective,
        })
    }

    /// Sets the provider-wide default (None: the provider only) or an org's
    /// policy ("Manage all users' API tokens" in that org, a password
    /// session; an org's admin only stricter than the default).
    pub fn set_token_policy(
        &mut self,
        by: Actor<'_>,
        org_id: Option<&str>,
        policy: TokenPolicy,
    ) -> Result<PolicyView, DomainError> {
        let org = match (by, org_id) {
            (Actor::Caller(caller), org_id) => {
                self.require_session(caller, "change token policy")?;
                let org = org_id
                    .map(|id| self.visible_org_by_id(caller, id))
                    .transpose()?;
                self.require(caller, Right::TokenManageAll)?;
                if org.is_none() && !caller.account.org.is_provider {
                    return Err(self.deny(
                        caller,
                        "only the provider sets the default token policy".into(),
                    ));
                }
                org
            }
            (Actor::Operator, Some(name)) => Some(self.org(name)?),
            (Actor::Operator, None) => None,
        };
        self.write_token_policy(by, org, policy)
    }

    fn write_token_policy(
        &mut self,
        by: Actor<'_>,
        org: Option<Org>,
        policy: TokenPolicy,
    ) -> Result<PolicyView, DomainError> {
        policy.check_fields()?;
        let inherited = match &org {
            None => EffectivePolicy::built_in(),
            Some(_) => self.default_policy()?,
        };
        let effective = EffectivePolicy::merge(&policy, &inherited);
        effective.check()?;
        // The default binds every org, so a looser org policy would only
        // mislead whoever reads it; the provider too writes a stricter one.
        if org.is_some() {
            effective.within(&inherited)?;
        }
        let key = org
            .as_ref()
            .map_or(DEFAULT_POLICY.to_string(), |org| org.id.clone());
        let mut event = self.event_by(by, "policy.update")?.with(
            "policy",
            json!({
                "default_ttl": policy.default_ttl,
                "max_ttl": policy.max_ttl,
                "allow_never": policy.allow_never,
                "max_idle": policy.max_idle,
                "second_factor": policy.second_factor,
                "max_rotation_grace": policy.max_rotation_grace,
                "require_bound_cidrs": policy.require_bound_cidrs,
            }),
        );
        event = match &org {
            Some(org) => event.on("org", &org.id, &org.name).in_org(&org.id),
            None => event.on("token_policy", DEFAULT_POLICY, "provider default"),
        };
        let stored = policy.clone();
        self.write_recorded(event, move |tx| tx.set_token_policy(&key, &stored))?;
        self.policy_view(org)
    }

    /// The live tokens of an org that its policy would not allow today:
    /// lowering a maximum changes no token, so an admin sees these instead.
    pub fn tokens_beyond_policy(
        &self,
        by: Actor<'_>,
        org_id: &str,
    ) -> Result<Vec<ApiTokenListing>, DomainError> {
        let org = match by {
            Actor::Caller(caller) => {
                let org = self.visible_org_by_id(caller, org_id)?;
                self.require(caller, Right::TokenManageAll)?;
                org
            }
            Actor::Operator => self.org(org_id)?,
        };
        let policy = self.policy_of(&org.id)?;
        let now = self.now();
        // Default expiries land on a whole minute: a token made by default
        // at the maximum within the last minute is not beyond it.
        let latest = whole_minute_at_or_after(
            now.saturating_add(i64::try_from(policy.max().as_secs()).unwrap_or(i64::MAX)),
        );
        Ok(self.db().tokens_beyond(
            &org.id,
            latest,
            !policy.allow_never,
            policy.require_bound_cidrs,
            now,
        )?)
    }

    /// Revokes the tokens unused for longer than their org allows (each
    /// with a `token.revoke` event, reason `idle`); how many. Not while the
    /// wall clock is in doubt: a clock far ahead would make every token
    /// idle, and a revocation is for good.
    pub fn revoke_idle_tokens(&mut self) -> Result<u64, DomainError> {
        self.clock_trusted()?;
        let now = self.now();
        let mut revoked = 0;
        let mut orgs = Vec::new();
        for number in 0_u64.. {
            let page = self.db().orgs(&crate::domain::records::DirectoryFilter {
                org_id: None,
                name_contains: None,
                offset: number * 100,
                limit: 100,
            })?;
            let done = page.orgs.len() < 100;
            orgs.extend(page.orgs);
            if done {
                break;
            }
        }
        for org in orgs {
            let Some(idle) = self.policy_of(&org.id)?.idle_limit() else {
                continue;
            };
            let cutoff = now.saturating_sub(i64::try_from(idle.as_secs()).unwrap_or(i64::MAX));
            loop {
                let idle_tokens = self.db().idle_tokens(&org.id, cutoff, IDLE_BATCH)?;
                if idle_tokens.is_empty() {
                    break;
                }
                let mut events = Vec::with_capacity(idle_tokens.len());
                for token in &idle_tokens {
                    events.push(
                        self.operator_event("token.revoke")?
                            .on("api_token", &token.id, &token.name)
                            .in_org(&org.id)
                            .with("owner", json!(token.owner_id))
                            .with("reason", json!("idle")),
                    );
                }
                let ids: Vec<String> = idle_tokens.iter().map(|t| t.id.clone()).collect();
                revoked += ids.len() as u64;
                self.store.write(move |tx| {
                    for (id, event) in ids.iter().zip(&events) {
                        if tx.revoke_api_token(id, now)? {
                            tx.insert_event(event)?;
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(default: &str, max: &str, never: bool, idle: Option<&str>) -> EffectivePolicy {
        EffectivePolicy {
            default_ttl: default.into(),
            max_ttl: max.into(),
            allow_never: never,
            max_idle: idle.map(String::from),
            second_factor: SecondFactorRule::Nobody,
            max_rotation_grace: DEFAULT_MAX_ROTATION_GRACE.into(),
            require_bound_cidrs: false,
        }
    }

    #[test]
    fn a_rotation_grace_is_only_ever_shortened_and_a_rotated_lifetime_capped() {
        let default = policy("30days", "90days", false, None);
        let own = TokenPolicy {
            max_rotation_grace: Some("1h".into()),
            ..TokenPolicy::default()
        };
        let merged = EffectivePolicy::merge(&own, &default);
        assert_eq!(merged.rotation_grace_limit(), Duration::from_secs(3600));
        assert!(merged.within(&default).is_ok());
        let mut strict = default.clone();
        strict.max_rotation_grace = "0".into();
        assert!(merged.within(&strict).is_err(), "looser than the default");
        assert_eq!(
            merged.clone().held_to(&strict).rotation_grace_limit(),
            Duration::ZERO
        );
        assert_eq!(merged.rotated_ttl(Some(3600)), "3600s");
        assert_eq!(merged.rotated_ttl(Some(365 * 86_400)), "90days", "capped");
        assert_eq!(merged.rotated_ttl(None), "90days", "never is not allowed");
        for bad in ["soon", "31days", "-1h"] {
            let policy = TokenPolicy {
                max_rotation_grace: Some(bad.into()),
                ..TokenPolicy::default()
            };
            assert!(policy.check_fields().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_required_binding_is_inherited_and_never_lifted_by_an_org() {
        let mut required = policy("30days", "90days", false, None);
        required.require_bound_cidrs = true;
        let lifting = TokenPolicy {
            require_bound_cidrs: Some(false),
            ..TokenPolicy::default()
        };
        let merged = EffectivePolicy::merge(&lifting, &required);
        assert!(!merged.require_bound_cidrs);
        assert!(merged.within(&required).is_err(), "looser than the default");
        assert!(merged.held_to(&required).require_bound_cidrs);
        let inheriting = EffectivePolicy::merge(&TokenPolicy::default(), &required);
        assert!(inheriting.require_bound_cidrs);
        assert!(inheriting.within(&required).is_ok());
    }

    #[test]
    fn unset_fields_are_inherited_and_none_lifts_an_idle_limit() {
        let default = policy("30days", "90days", false, Some("60days"));
        let own = TokenPolicy {
            max_ttl: Some("7days".into()),
            max_idle: Some("none".into()),
            ..TokenPolicy::default()
        };
        let merged = EffectivePolicy::merge(&own, &default);
        // The inherited 30-day default gives way to the 7-day maximum.
        assert_eq!(merged, policy("7days", "7days", false, None));
    }

    #[test]
    fn an_inherited_default_the_policy_forbids_gives_way_to_its_maximum() {
        let default = policy("6months", "5years", true, None);
        let own = TokenPolicy {
            max_ttl: Some("90days".into()),
            ..TokenPolicy::default()
        };
        assert_eq!(EffectivePolicy::merge(&own, &default).default_ttl, "90days");
        let never = policy("never", "5years", true, None);
        let own = TokenPolicy {
            allow_never: Some(false),
            ..TokenPolicy::default()
        };
        assert_eq!(EffectivePolicy::merge(&own, &never).default_ttl, "5years");
    }

    #[test]
    fn a_lifetime_is_checked_against_the_policy() {
        let strict = policy("7days", "30days", false, None);
        assert!(strict.lifetime(Some("never"), "acme").is_err());
        assert!(strict.lifetime(Some("31days"), "acme").is_err());
        assert!(strict.lifetime(Some("30days"), "acme").is_ok());
        assert!(strict.lifetime(None, "acme").is_ok());
        assert!(policy("never", "30days", false, None).check().is_err());
        assert!(policy("60days", "30days", true, None).check().is_err());
    }

    #[test]
    fn an_org_policy_is_held_to_a_default_tightened_after_it() {
        let org = policy("300days", "1year", true, Some("90days"));
        let tightened = policy("7days", "7days", false, Some("30days"));
        let held = org.held_to(&tightened);
        assert_eq!(held, policy("7days", "7days", false, Some("30days")));
        assert!(held.lifetime(Some("300days"), "acme").is_err());
        let stricter = policy("1day", "3days", false, Some("2days"));
        assert_eq!(stricter.clone().held_to(&tightened), stricter);
    }

    #[test]
    fn a_second_factor_rule_is_only_ever_tightened() {
        let mut admins = policy("30days", "90days", false, None);
        admins.second_factor = SecondFactorRule::Admins;
        let own = TokenPolicy {
            second_factor: Some("everyone".into()),
            ..TokenPolicy::default()
        };
        let merged = EffectivePolicy::merge(&own, &admins);
        assert_eq!(merged.second_factor, SecondFactorRule::Everyone);
        assert!(merged.within(&admins).is_ok());
        let mut nobody = admins.clone();
        nobody.second_factor = SecondFactorRule::Nobody;
        assert!(nobody.within(&admins).is_err(), "looser than the default");
        assert_eq!(
            nobody.held_to(&admins).second_factor,
            SecondFactorRule::Admins
        );
        assert!(SecondFactorRule::parse("some").is_err());
    }

    #[test]
    fn an_org_may_only_be_stricter_than_the_default() {
        let default = policy("30days", "90days", false, Some("60days"));
        assert!(policy("7days", "30days", false, Some("30days"))
            .within(&default)
            .is_ok());
        assert!(policy("7days", "1year", false, Some("30days"))
            .within(&default)
            .is_err());
        assert!(policy("7days", "30days", true, Some("30days"))
            .within(&default)
            .is_err());
        assert!(policy("7days", "30days", false, None)
            .within(&default)
            .is_err());
    }
}
