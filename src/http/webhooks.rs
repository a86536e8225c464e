//! Webhooks over HTTP: `/api/webhooks` (add, list), `/api/webhooks/{id}`
//! (read, remove) and `/api/webhooks/{id}/deliveries` (the recent
//! deliveries and their state). The secret is in the answer to the add
//! alone.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{Actor, Authority, NewWebhook};
use crate::shapes::{webhook_delivery_json, webhook_json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewWebhookBody {
    url: String,
    events: Vec<String>,
    expiring_days: Option<i64>,
    /// Whose events, by org name.
    org: Option<String>,
}

/// `POST /api/webhooks`: 201 with the webhook and its secret, shown once.
pub fn create(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NewWebhookBody = request.json_body()?;
    let created = authority.create_webhook(
        Actor::Caller(&caller),
        NewWebhook {
            url: &body.url,
            events: &body.events,
            expiring_days: body.expiring_days,
            org: body.org.as_deref(),
        },
    )?;
    let mut shown = webhook_json(&created.webhook);
    shown["secret"] = json!(created.secret.as_str());
    Ok(Response::json(201, &shown).no_store())
}

pub fn list(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let webhooks: Vec<Value> = authority
        .webhooks_in_reach(Actor::Caller(&caller))?
        .iter()
        .map(webhook_json)
        .collect();
    Ok(Response::json(200, &json!({ "webhooks": webhooks })))
}

pub fn get(authority: &Authority, request: &Request, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let webhook = authority.webhook_in_reach(Actor::Caller(&caller), id)?;
    Ok(Response::json(200, &webhook_json(&webhook)))
}

pub fn delete(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    authority.delete_webhook(Actor::Caller(&caller), id)?;
    Ok(Response::no_content())
}

/// `GET /api/webhooks/{id}/deliveries`: the newest 100, newest first.
pub fn deliveries(
    authority: &Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let deliveries: Vec<Value> = authority
        .webhook_deliveries(Actor::Caller(&caller), id)?
        .iter()
        .map(webhook_delivery_json)
        .collect();
    Ok(Response::json(200, &json!({ "deliveries": deliveries })))
}
