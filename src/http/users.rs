//! User management: list (paged, filtered by name), read, add, disable,
//! enable, and set a password (one's own, or another user's as an admin).

use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiError, BadRequest};
use super::render::page_json;
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{Actor, Authority, NewAccount, PageRequest, PasswordTarget};
use crate::shapes::user_json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUserBody {
    username: String,
    org: String,
    password: String,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordBody {
    current_password: Option<String>,
    new_password: String,
}

pub fn list(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(true, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed = authority.users(
        Actor::Caller(&caller),
        query.name.as_deref(),
        query.org.as_deref(),
        page,
    )?;
    let users: Vec<Value> = listed.users.iter().map(user_json).collect();
    Ok(page_json("users", users, page, listed.total))
}

pub fn get(authority: &Authority, request: &Request, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let user = authority.user(&caller, id)?;
    Ok(Response::json(200, &user_json(&user)))
}

pub fn create(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NewUserBody = request.json_body()?;
    let user = authority.add_user(
        Actor::Caller(&caller),
        NewAccount {
            org_name: &body.org,
            user_name: &body.username,
            password: &body.password,
            role_names: &body.roles,
            email: body.email.as_deref(),
            display_name: body.name.as_deref(),
        },
    )?;
    Ok(Response::json(201, &user_json(&user)))
}

pub fn set_enabled(
    authority: &mut Authority,
    request: &Request,
    id: &str,
    enabled: bool,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let user = authority.user_by_id(by, id)?;
    let user = authority.set_user_enabled(by, &user, enabled)?;
    Ok(Response::json(200, &user_json(&user)))
}

/// `PUT /api/users/{id}/password`, where `{id}` may be `me`.
pub fn set_password(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: PasswordBody = request.json_body()?;
    let target = match (id, body.current_password.as_deref()) {
        ("me", Some(current)) => PasswordTarget::Me { current },
        ("me", None) => {
            return Err(BadRequest::Malformed(
                "changing one's own password needs current_password".into(),
            )
            .into())
        }
        (id, _) => PasswordTarget::User(id),
    };
    authority.set_password(Actor::Caller(&caller), target, &body.new_password)?;
    Ok(Response::no_content())
}
