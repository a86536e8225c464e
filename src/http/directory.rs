//! Roles, groups, services, rights bundles and orgs over HTTP: listing
//! (paged, by name), defining roles, granting roles to users and groups,
//! groups and their members; the provider's services, bundles and orgs.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::render::page_json;
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{format_time, Actor, Authority, DomainError, NewRole, PageRequest};
use crate::shapes::{
    bundle_json, group_json, introspection_client_json, org_json, role_json, service_json,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewRoleBody {
    name: String,
    /// Absent: a global role.
    org: Option<String>,
    service: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleRef {
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewGroupBody {
    name: String,
    org: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberRef {
    user: String,
}

/// A service or a rights bundle to define.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NamedPermissions {
    name: String,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OrgRef {
    org: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewOrgBody {
    name: String,
}

pub fn roles(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(false, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed = authority.roles_in_reach(Actor::Caller(&caller), query.name.as_deref(), page)?;
    let roles: Vec<Value> = listed.roles.iter().map(role_json).collect();
    Ok(page_json("roles", roles, page, listed.total))
}

pub fn create_role(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NewRoleBody = request.json_body()?;
    let role = authority.add_role(
        Actor::Caller(&caller),
        NewRole {
            name: &body.name,
            org_name: body.org.as_deref(),
            service: body.service.as_deref(),
            permissions: &body.permissions,
        },
    )?;
    Ok(Response::json(201, &role_json(&role)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PermissionsBody {
    permissions: Vec<String>,
}

pub fn set_role_permissions(
    authority: &mut Authority,
    request: &Request,
    role_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: PermissionsBody = request.json_body()?;
    let by = Actor::Caller(&caller);
    let role = authority.role_by_id(by, role_id)?;
    let role = authority.set_role_permissions(by, &role, &body.permissions)?;
    Ok(Response::json(200, &role_json(&role)))
}

pub fn delete_role(
    authority: &mut Authority,
    request: &Request,
    role_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let role = authority.role_by_id(by, role_id)?;
    authority.delete_role(by, &role)?;
    Ok(Response::no_content())
}

/// `POST /api/roles/{id}/orgs` (publish) and `DELETE .../orgs/{org}`.
pub fn publish_role(
    authority: &mut Authority,
    request: &Request,
    role_id: &str,
    org: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let role = authority.role_to_publish(by, role_id)?;
    match org {
        None => {
            let body: OrgRef = request.json_body()?;
            authority.set_role_published(by, &role, &body.org, true)?;
        }
        Some(org) => {
            if !authority.set_role_published(by, &role, org, false)? {
                return Err(not_found(format!("the role is not published to {org:?}")));
            }
        }
    }
    Ok(Response::json(
        200,
        &role_json(&authority.role_by_id(by, role_id)?),
    ))
}

/// `POST /api/users/{id}/roles` (grant) and `DELETE /api/users/{id}/roles/{role}`.
pub fn set_user_role(
    authority: &mut Authority,
    request: &Request,
    user_id: &str,
    role: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let user = authority.user_by_id(by, user_id)?;
    match role {
        None => {
            let body: RoleRef = request.json_body()?;
            authority.set_user_role(by, &user, &body.role, true)?;
        }
        Some(role) => {
            if !authority.set_user_role(by, &user, role, false)? {
                return Err(ApiError::not_found());
            }
        }
    }
    Ok(Response::no_content())
}

pub fn groups(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(false, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed = authority.groups_in_reach(Actor::Caller(&caller), query.name.as_deref(), page)?;
    let groups: Vec<Value> = listed.groups.iter().map(group_json).collect();
    Ok(page_json("groups", groups, page, listed.total))
}

pub fn group(authority: &Authority, request: &Request, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    Ok(Response::json(
        200,
        &group_json(&authority.group_in_reach(&caller, id)?),
    ))
}

pub fn create_group(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NewGroupBody = request.json_body()?;
    let by = Actor::Caller(&caller);
    let group = authority.add_group(by, &body.org, &body.name)?;
    Ok(Response::json(
        201,
        &group_json(&authority.group_by_id(by, &group.id)?),
    ))
}

/// `POST /api/groups/{id}/members` (add) and `DELETE .../members/{user}`.
pub fn set_group_member(
    authority: &mut Authority,
    request: &Request,
    group_id: &str,
    user_id: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let group = authority.group_by_id(by, group_id)?;
    match user_id {
        None => {
            let body: MemberRef = request.json_body()?;
            let user = authority.user_by_id(by, &body.user)?;
            authority.set_group_member(by, &group, &user, true)?;
        }
        Some(user_id) => {
            let user = authority.user_by_id(by, user_id)?;
            if !authority.set_group_member(by, &group, &user, false)? {
                return Err(not_found("the user is not in the group".into()));
            }
        }
    }
    Ok(Response::json(
        200,
        &group_json(&authority.group_by_id(by, group_id)?),
    ))
}

/// `POST /api/groups/{id}/roles` (grant) and `DELETE .../roles/{role}`.
pub fn set_group_role(
    authority: &mut Authority,
    request: &Request,
    group_id: &str,
    role: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let group = authority.group_by_id(by, group_id)?;
    match role {
        None => {
            let body: RoleRef = request.json_body()?;
            authority.set_group_role(by, &group, &body.role, true)?;
        }
        Some(role) => {
            if !authority.set_group_role(by, &group, role, false)? {
                return Err(not_found("the group does not hold the role".into()));
            }
        }
    }
    Ok(Response::json(
        200,
        &group_json(&authority.group_by_id(by, group_id)?),
    ))
}

pub fn services(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(false, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed =
        authority.services_in_reach(Actor::Caller(&caller), query.name.as_deref(), page)?;
    let services: Vec<Value> = listed.services.iter().map(service_json).collect();
    Ok(page_json("services", services, page, listed.total))
}

pub fn create_service(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NamedPermissions = request.json_body()?;
    let service = authority.add_service(Actor::Caller(&caller), &body.name, &body.permissions)?;
    Ok(Response::json(201, &service_json(&service)))
}

pub fn bundles(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(false, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed = authority.bundles_in_reach(Actor::Caller(&caller), query.name.as_deref(), page)?;
    let bundles: Vec<Value> = listed.bundles.iter().map(bundle_json).collect();
    Ok(page_json("rights_bundles", bundles, page, listed.total))
}

pub fn create_bundle(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NamedPermissions = request.json_body()?;
    let bundle =
        authority.add_rights_bundle(Actor::Caller(&caller), &body.name, &body.permissions)?;
    Ok(Response::json(
        201,
        &bundle_json(&authority.bundle_by_id(&bundle.id)?),
    ))
}

/// `POST /api/services/{id}/permissions`: more permissions for a service.
pub fn extend_service(
    authority: &mut Authority,
    request: &Request,
    service_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: PermissionsBody = request.json_body()?;
    let service = authority.service_by_id(service_id)?;
    let service = authority.extend_service(Actor::Caller(&caller), &service, &body.permissions)?;
    Ok(Response::json(200, &service_json(&service)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceChange {
    /// The identifier URI; null removes it.
    identifier: Option<String>,
}

/// `PATCH /api/services/{id}`: the service's identifier URI, which
/// exchanges name as `resource` for access tokens meant for it.
pub fn change_service(
    authority: &mut Authority,
    request: &Request,
    service_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: ServiceChange = request.json_body()?;
    let service = authority.service_by_id(service_id)?;
    let service = authority.set_service_identifier(
        Actor::Caller(&caller),
        &service,
        body.identifier.as_deref(),
    )?;
    Ok(Response::json(200, &service_json(&service)))
}

/// `POST /api/services/{id}/clients`: introspection credentials; the secret
/// is in this answer only.
pub fn create_service_client(
    authority: &mut Authority,
    request: &Request,
    service_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let service = authority.service_by_id(service_id)?;
    let created = authority.add_introspection_client(Actor::Caller(&caller), &service)?;
    Ok(Response::json(
        201,
        &json!({
            "client_id": created.client_id,
            "client_secret": created.client_secret,
            "service": created.service,
            "created_at": format_time(created.created_at),
        }),
    )
    .no_store())
}

/// `GET /api/services/{id}/clients`: never a secret.
pub fn service_clients(
    authority: &Authority,
    request: &Request,
    service_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let service = authority.service_by_id(service_id)?;
    let clients: Vec<Value> = authority
        .introspection_clients(Actor::Caller(&caller), &service)?
        .iter()
        .map(introspection_client_json)
        .collect();
    Ok(Response::json(200, &json!({ "clients": clients })))
}

/// `DELETE /api/services/{id}/clients/{client_id}`.
pub fn revoke_service_client(
    authority: &mut Authority,
    request: &Request,
    service_id: &str,
    client_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let service = authority.service_by_id(service_id)?;
    authority.revoke_introspection_client(Actor::Caller(&caller), client_id, Some(&service))?;
    Ok(Response::no_content())
}

/// `PUT /api/rights-bundles/{id}/permissions`.
pub fn set_bundle_permissions(
    authority: &mut Authority,
    request: &Request,
    bundle_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: PermissionsBody = request.json_body()?;
    let bundle = authority.bundle_by_id(bundle_id)?;
    let bundle =
        authority.set_bundle_permissions(Actor::Caller(&caller), &bundle, &body.permissions)?;
    Ok(Response::json(200, &bundle_json(&bundle)))
}

/// `POST /api/rights-bundles/{id}/orgs` (publish) and `DELETE .../orgs/{org}`.
pub fn publish_bundle(
    authority: &mut Authority,
    request: &Request,
    bundle_id: &str,
    org: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let bundle = authority.bundle_by_id(bundle_id)?;
    match org {
        None => {
            let body: OrgRef = request.json_body()?;
            authority.set_bundle_published(by, &bundle, &body.org, true)?;
        }
        Some(org) => {
            if !authority.set_bundle_published(by, &bundle, org, false)? {
                return Err(not_found(format!("the bundle is not published to {org:?}")));
            }
        }
    }
    let bundle = authority.bundle_by_id(bundle_id)?;
    Ok(Response::json(200, &bundle_json(&bundle)))
}

/// `POST /api/org`: a new tenant org.
pub fn create_org(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NewOrgBody = request.json_body()?;
    let org = authority.add_org(Actor::Caller(&caller), &body.name)?;
    Ok(Response::json(201, &org_json(&org)))
}

/// 404 for a removal that found nothing to remove.
fn not_found(message: String) -> ApiError {
    DomainError::NotFound(message).into()
}
