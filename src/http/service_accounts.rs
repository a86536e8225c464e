//! Service accounts over HTTP: the admin's side of the device grant at
//! Cloud Director's `/cloudapi/1.0.0/deviceLookup` (look up, grant, deny by
//! user code), and their administration at `/api/service-accounts` (list,
//! read, change the role, revoke access, delete).

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::render::page_json;
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{format_time, Actor, Authority, DeviceRequest, PageRequest};
use crate::shapes::service_account_json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserCodeBody {
    #[serde(rename = "userCode")]
    user_code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleBody {
    /// None: no role.
    role: Option<String>,
}

fn device_request_json(request: &DeviceRequest) -> Value {
    json!({
        "userCode": request.user_code,
        "clientId": request.account.id,
        "clientName": request.account.name,
        "orgName": request.account.org_name,
        "softwareId": request.account.software_id,
        "status": request.account.status.as_str(),
        "expiresAt": format_time(request.expires_at),
    })
}

/// `POST /cloudapi/1.0.0/deviceLookup`: the pending request of a user code.
pub fn look_up(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: UserCodeBody = request.json_body()?;
    let found = authority.look_up_device(&caller, &body.user_code)?;
    Ok(Response::json(200, &device_request_json(&found)))
}

/// `POST /cloudapi/1.0.0/deviceLookup/grant` and `…/deny`.
pub fn decide(
    authority: &mut Authority,
    request: &Request,
    grant: bool,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: UserCodeBody = request.json_body()?;
    let decided = authority.decide_device(Actor::Caller(&caller), &body.user_code, grant)?;
    Ok(Response::json(200, &device_request_json(&decided)))
}

pub fn list(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(false, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed =
        authority.service_accounts_in_reach(Actor::Caller(&caller), query.name.as_deref(), page)?;
    let accounts: Vec<Value> = listed.accounts.iter().map(service_account_json).collect();
    Ok(page_json("service_accounts", accounts, page, listed.total))
}

pub fn get(authority: &Authority, request: &Request, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let account = authority.service_account_in_reach(&caller, id)?;
    Ok(Response::json(200, &service_account_json(&account)))
}

/// `PUT /api/service-accounts/{id}/role`: `{"role": "…"}`, or `null` for none.
pub fn set_role(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: RoleBody = request.json_body()?;
    let account =
        authority.set_service_account_role(Actor::Caller(&caller), id, body.role.as_deref())?;
    Ok(Response::json(200, &service_account_json(&account)))
}

/// `POST /api/service-accounts/{id}/revoke`: every token revoked; the
/// account is `CREATED` again.
pub fn revoke(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let account = authority.revoke_service_account(Actor::Caller(&caller), id)?;
    Ok(Response::json(200, &service_account_json(&account)))
}

pub fn delete(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    authority.delete_service_account(Actor::Caller(&caller), id)?;
    Ok(Response::no_content())
}
