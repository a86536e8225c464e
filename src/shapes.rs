//! The JSON shape of each object tokend shows: the API answers with it and
//! the admin CLI prints it (`--output json`), so an object reads the same
//! whichever face showed it. Plain functions from domain records to
//! `serde_json` values; no decisions, no HTTP.

use serde_json::{json, Value};

use crate::domain::records::ServiceAccount;
use crate::domain::{
    format_time, ApiTokenListing, BundleSummary, GroupSummary, IntrospectionClient, Org,
    PolicyView, RoleDefinition, Service, SigningKeyInfo, TokenScope, UserSummary,
};

pub fn org_json(org: &Org) -> Value {
    json!({ "id": org.id, "name": org.name, "is_provider": org.is_provider })
}

pub fn user_json(user: &UserSummary) -> Value {
    json!({
        "id": user.id,
        "username": user.name,
        "org": { "id": user.org_id, "name": user.org_name },
        "email": user.email,
        "name": user.display_name,
        "enabled": !user.disabled,
        "second_factor_enrolled": user.second_factor,
        "created_at": format_time(user.created_at),
    })
}

pub fn role_json(role: &RoleDefinition) -> Value {
    json!({
        "id": role.id,
        "name": role.name,
        "global": role.org_id.is_none(),
        "org_id": role.org_id,
        "service": role.service,
        "permissions": role.permissions,
        "published_to_all": role.published_to_all,
    })
}

pub fn group_json(group: &GroupSummary) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "org": { "id": group.org_id, "name": group.org_name },
        "members": group.members,
        "roles": group.roles,
    })
}

pub fn service_json(service: &Service) -> Value {
    let permissions: Vec<String> = service
        .permissions
        .iter()
        .map(|p| format!("{}:{p}", service.name))
        .collect();
    json!({
        "id": service.id,
        "name": service.name,
        "permissions": permissions,
        "identifier": service.identifier,
    })
}

pub fn bundle_json(bundle: &BundleSummary) -> Value {
    json!({
        "id": bundle.id,
        "name": bundle.name,
        "permissions": bundle.permissions,
        "orgs": bundle.orgs,
        "publish_to_new_orgs": bundle.publish_to_new_orgs,
    })
}

/// A service's introspection client: never its secret.
pub fn introspection_client_json(client: &IntrospectionClient) -> Value {
    json!({ "client_id": client.id, "created_at": format_time(client.created_at) })
}

/// A service account as every answer shows it.
pub fn service_account_json(account: &ServiceAccount) -> Value {
    json!({
        "id": account.id,
        "name": account.name,
        "org": { "id": account.org_id, "name": account.org_name },
        "software_id": account.software_id,
        "software_version": account.software_version,
        "client_uri": account.client_uri,
        "status": account.status.as_str(),
        "roles": account.roles,
        "created_at": format_time(account.created_at),
    })
}

/// A scope as answers show it.
pub fn scope_json(scope: &TokenScope) -> Value {
    match scope {
        TokenScope::AllRoles => json!({ "all_roles": true }),
        TokenScope::Roles {
            org_roles,
            service_roles,
        } => {
            let service_roles: Vec<Value> = service_roles
                .iter()
                .map(|s| {
                    let mut role = json!({ "service": s.service, "role": s.role });
                    if let Some(permissions) = &s.permissions {
                        role["permissions"] = json!(permissions);
                    }
                    role
                })
                .collect();
            json!({
                "all_roles": false,
                "org_roles": org_roles,
                "service_roles": service_roles,
            })
        }
    }
}

/// An API token as listings show it: never its secret. `revoked_at` is
/// null but in the CLI's `token list --all`: the API lists live tokens.
/// `bound_cidrs` is `[]` and `network_bound` false for a token any
/// network may exchange.
pub fn token_json(t: &ApiTokenListing) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "owner": { "id": t.owner_id, "name": t.owner_name, "org": t.org_name },
        "created_at": format_time(t.created_at),
        "expires_at": t.expires_at.map(format_time),
        "last_used_at": t.last_used_at.map(format_time),
        "last_used_ip": t.last_used_ip,
        "revoked_at": t.revoked_at.map(format_time),
        "openid": t.openid,
        "scope": scope_json(&t.scope),
        "bound_cidrs": t.bound_cidrs,
        "network_bound": !t.bound_cidrs.is_empty(),
    })
}

/// A token lifetime policy: its own fields (null: inherited) and what is
/// in force.
pub fn policy_json(view: &PolicyView) -> Value {
    let own = &view.own;
    let effective = &view.effective;
    json!({
        "org": view.org.as_ref().map(|org| json!({ "id": org.id, "name": org.name })),
        "policy": {
            "default_ttl": own.default_ttl,
            "max_ttl": own.max_ttl,
            "allow_never": own.allow_never,
            "max_idle": own.max_idle,
            "second_factor": own.second_factor,
            "max_rotation_grace": own.max_rotation_grace,
            "require_bound_cidrs": own.require_bound_cidrs,
        },
        "effective": {
            "default_ttl": effective.default_ttl,
            "max_ttl": effective.max_ttl,
            "allow_never": effective.allow_never,
            "max_idle": effective.max_idle,
            "second_factor": effective.second_factor.name(),
            "max_rotation_grace": effective.max_rotation_grace,
            "require_bound_cidrs": effective.require_bound_cidrs,
        },
    })
}

/// A signing key (the CLI's `key list` and `key show`; the API publishes
/// keys only as the JWKS): never its private part. `state` is `signs`,
/// `published` (not signing yet), `verifies` (replaced, still trusted) or
/// `retired`.
pub fn key_json(key: &SigningKeyInfo) -> Value {
    json!({
        "kid": key.kid,
        "algorithm": key.algorithm,
        "created_at": format_time(key.created_at),
        "signs_from": format_time(key.activates_at),
        "replaced_at": key.replaced_at.map(format_time),
        "state": key_state(key),
    })
}

/// What a key does now.
pub fn key_state(key: &SigningKeyInfo) -> &'static str {
    match (key.signs, key.verifies) {
        (true, _) => "signs",
        (false, true) if key.replaced_at.is_none() => "published",
        (false, true) => "verifies",
        (false, false) => "retired",
    }
}

/// A webhook; never its secret.
pub fn webhook_json(webhook: &crate::domain::WebhookRecord) -> Value {
    json!({
        "id": webhook.id,
        "url": webhook.url,
        "events": webhook.events,
        "expiring_days": webhook.expiring_days,
        "org": webhook.org_id.as_ref().map(|id| json!({ "id": id, "name": webhook.org_name })),
        "created_at": format_time(webhook.created_at),
        "created_by": webhook.created_by,
    })
}

/// A delivery's state: its body is what was sent, which holds no secret.
pub fn webhook_delivery_json(delivery: &crate::domain::WebhookDelivery) -> Value {
    let status = if delivery.delivered_at.is_some() {
        "delivered"
    } else if delivery.failed_at.is_some() {
        "failed"
    } else {
        "pending"
    };
    json!({
        "id": delivery.id,
        "event": delivery.event_type,
        "event_id": delivery.event_id,
        "status": status,
        "attempts": delivery.attempts,
        "created_at": format_time(delivery.created_at),
        "next_attempt_at": (status == "pending").then(|| format_time(delivery.next_attempt_at)),
        "delivered_at": delivery.delivered_at.map(format_time),
        "failed_at": delivery.failed_at.map(format_time),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
    })
}
