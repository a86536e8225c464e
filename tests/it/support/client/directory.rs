//! The typed client's calls about what can be granted: roles (local or
//! global, their permissions, publishing global ones to orgs), groups
//! (members and roles), services and their permissions, rights bundles,
//! and orgs. Listings take the query string as the API documents it
//! (`name=ops&pageSize=5`, or empty) and answer a `Page`; names in paths
//! are percent-encoded here.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::super::wire::Response;
use super::{encoded, with_query, Call, Client, Entry, Page};

/// One entry of `GET /api/org`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub is_provider: bool,
}

/// A role as `/api/roles` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub global: bool,
    pub permissions: Vec<String>,
    pub published_to_all: bool,
}

/// The body of `POST /api/roles`: a role local to an org or global, an
/// org role or a service's. A field left `None` is left out.
#[derive(Debug, Clone, Serialize)]
pub struct NewRole {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
}

impl NewRole {
    /// A role of `org` only.
    pub fn local(name: &str, org: &str) -> NewRole {
        NewRole {
            name: name.to_owned(),
            org: Some(org.to_owned()),
            service: None,
            permissions: None,
        }
    }

    /// A global role, the provider's to define and publish.
    pub fn global(name: &str) -> NewRole {
        NewRole {
            name: name.to_owned(),
            org: None,
            service: None,
            permissions: None,
        }
    }

    /// A role of `service`, holding only its permissions.
    pub fn service(mut self, service: &str) -> NewRole {
        self.service = Some(service.to_owned());
        self
    }

    pub fn permissions(mut self, permissions: &[&str]) -> NewRole {
        self.permissions = Some(permissions.iter().map(|p| p.to_string()).collect());
        self
    }
}

/// A group as `/api/groups` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    /// Member user ids.
    pub members: Vec<String>,
    /// The names of the roles granted to the group.
    pub roles: Vec<String>,
}

/// A service and its permissions.
#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
}

/// A rights bundle: permissions an org may use, and the orgs (by name) it
/// is published to.
#[derive(Debug, Clone, Deserialize)]
pub struct RightsBundle {
    pub id: String,
    pub name: String,
    pub orgs: Vec<String>,
}

/// Listing entries with an `id` and a `name`.
macro_rules! entries {
    ($($entry:ty),*) => {
        $(impl Entry for $entry {
            fn id(&self) -> &str {
                &self.id
            }

            fn name(&self) -> &str {
                &self.name
            }
        })*
    };
}

entries!(Org, Role, Group, Service, RightsBundle);

/// `{"permissions": [...]}`.
fn permissions_body(permissions: &[&str]) -> Value {
    json!({ "permissions": permissions })
}

/// `{"name": name}`, with its permissions when there are some.
fn named_body(name: &str, permissions: &[&str]) -> Value {
    if permissions.is_empty() {
        json!({ "name": name })
    } else {
        json!({ "name": name, "permissions": permissions })
    }
}

impl Client {
    // -- roles ----------------------------------------------------------------

    /// `GET /api/roles?{query}`.
    pub fn try_list_roles(&self, jwt: &str, query: &str) -> Response {
        let path = with_query("/api/roles", query);
        self.send(Call::get("list_roles", path).bearer(jwt))
    }

    pub fn list_roles(&self, jwt: &str, query: &str) -> Page<Role> {
        self.page(self.try_list_roles(jwt, query), "roles")
    }

    /// The id of the role named `name`, as `jwt` lists it.
    pub fn role_id(&self, jwt: &str, name: &str) -> String {
        self.list_roles(jwt, &format!("name={}", encoded(name)))
            .id_of(name)
    }

    /// `POST /api/roles`.
    pub fn try_create_role(&self, jwt: &str, role: &NewRole) -> Response {
        self.send(
            Call::post("create_role", "/api/roles")
                .bearer(jwt)
                .json(role),
        )
    }

    pub fn create_role(&self, jwt: &str, role: &NewRole) -> Role {
        self.expect(self.try_create_role(jwt, role), 201)
    }

    /// `PUT /api/roles/{id}/permissions`.
    pub fn try_set_role_permissions(&self, jwt: &str, id: &str, permissions: &[&str]) -> Response {
        let call = Call::put(
            "set_role_permissions",
            format!("/api/roles/{id}/permissions"),
        );
        self.send(call.bearer(jwt).json(permissions_body(permissions)))
    }

    pub fn set_role_permissions(&self, jwt: &str, id: &str, permissions: &[&str]) -> Role {
        self.expect(self.try_set_role_permissions(jwt, id, permissions), 200)
    }

    /// `POST /api/roles/{id}/orgs`: a global role published to `org`.
    pub fn try_publish_role(&self, jwt: &str, id: &str, org: &str) -> Response {
        let call = Call::post("publish_role", format!("/api/roles/{id}/orgs"));
        self.send(call.bearer(jwt).json(json!({ "org": org })))
    }

    pub fn publish_role(&self, jwt: &str, id: &str, org: &str) -> Role {
        self.expect(self.try_publish_role(jwt, id, org), 200)
    }

    /// `DELETE /api/roles/{id}/orgs/{org}`.
    pub fn try_withdraw_role(&self, jwt: &str, id: &str, org: &str) -> Response {
        let path = format!("/api/roles/{id}/orgs/{}", encoded(org));
        self.send(Call::delete("withdraw_role", path).bearer(jwt))
    }

    pub fn withdraw_role(&self, jwt: &str, id: &str, org: &str) -> Role {
        self.expect(self.try_withdraw_role(jwt, id, org), 200)
    }

    /// `DELETE /api/roles/{id}`.
    pub fn try_delete_role(&self, jwt: &str, id: &str) -> Response {
        self.send(Call::delete("delete_role", format!("/api/roles/{id}")).bearer(jwt))
    }

    pub fn delete_role(&self, jwt: &str, id: &str) {
        self.expect_status(self.try_delete_role(jwt, id), 204);
    }

    // -- groups ---------------------------------------------------------------

    /// `GET /api/groups?{query}`.
    pub fn list_groups(&self, jwt: &str, query: &str) -> Page<Group> {
        let path = with_query("/api/groups", query);
        self.page(
            self.send(Call::get("list_groups", path).bearer(jwt)),
            "groups",
        )
    }

    /// `GET /api/groups/{id}`.
    pub fn try_group(&self, jwt: &str, id: &str) -> Response {
        self.send(Call::get("group", format!("/api/groups/{id}")).bearer(jwt))
    }

    /// `POST /api/groups`.
    pub fn try_create_group(&self, jwt: &str, name: &str, org: &str) -> Response {
        let call = Call::post("create_group", "/api/groups").bearer(jwt);
        self.send(call.json(json!({ "name": name, "org": org })))
    }

    pub fn create_group(&self, jwt: &str, name: &str, org: &str) -> Group {
        self.expect(self.try_create_group(jwt, name, org), 201)
    }

    /// `POST /api/groups/{id}/members`: `user` (an id) joins.
    pub fn try_add_group_member(&self, jwt: &str, group: &str, user: &str) -> Response {
        let call = Call::post("add_group_member", format!("/api/groups/{group}/members"));
        self.send(call.bearer(jwt).json(json!({ "user": user })))
    }

    pub fn add_group_member(&self, jwt: &str, group: &str, user: &str) -> Group {
        self.expect(self.try_add_group_member(jwt, group, user), 200)
    }

    /// `DELETE /api/groups/{id}/members/{user}`.
    pub fn try_remove_group_member(&self, jwt: &str, group: &str, user: &str) -> Response {
        let path = format!("/api/groups/{group}/members/{user}");
        self.send(Call::delete("remove_group_member", path).bearer(jwt))
    }

    pub fn remove_group_member(&self, jwt: &str, group: &str, user: &str) -> Group {
        self.expect(self.try_remove_group_member(jwt, group, user), 200)
    }

    /// `POST /api/groups/{id}/roles`.
    pub fn try_grant_group_role(&self, jwt: &str, group: &str, role: &str) -> Response {
        let call = Call::post("grant_group_role", format!("/api/groups/{group}/roles"));
        self.send(call.bearer(jwt).json(json!({ "role": role })))
    }

    pub fn grant_group_role(&self, jwt: &str, group: &str, role: &str) -> Group {
        self.expect(self.try_grant_group_role(jwt, group, role), 200)
    }

    /// `DELETE /api/groups/{id}/roles/{role}`.
    pub fn revoke_group_role(&self, jwt: &str, group: &str, role: &str) -> Group {
        let path = format!("/api/groups/{group}/roles/{}", encoded(role));
        self.expect(
            self.send(Call::delete("revoke_group_role", path).bearer(jwt)),
            200,
        )
    }

    // -- services ---------------------------------------------------------------

    /// `GET /api/services?{query}`.
    pub fn list_services(&self, jwt: &str, query: &str) -> Page<Service> {
        let path = with_query("/api/services", query);
        self.page(
            self.send(Call::get("list_services", path).bearer(jwt)),
            "services",
        )
    }

    /// The id of the service named `name`.
    pub fn service_id(&self, jwt: &str, name: &str) -> String {
        self.list_services(jwt, &format!("name={}", encoded(name)))
            .id_of(name)
    }

    /// `POST /api/services`; no permissions leaves the field out.
    pub fn try_create_service(&self, jwt: &str, name: &str, permissions: &[&str]) -> Response {
        let call = Call::post("create_service", "/api/services").bearer(jwt);
        self.send(call.json(named_body(name, permissions)))
    }

    pub fn create_service(&self, jwt: &str, name: &str, permissions: &[&str]) -> Service {
        self.expect(self.try_create_service(jwt, name, permissions), 201)
    }

    /// `POST /api/services/{id}/permissions`: new permissions added.
    pub fn try_extend_service(&self, jwt: &str, id: &str, permissions: &[&str]) -> Response {
        let call = Call::post("extend_service", format!("/api/services/{id}/permissions"));
        self.send(call.bearer(jwt).json(permissions_body(permissions)))
    }

    pub fn extend_service(&self, jwt: &str, id: &str, permissions: &[&str]) -> Service {
        self.expect(self.try_extend_service(jwt, id, permissions), 200)
    }

    // -- rights bundles -------------------------------------------------------------

    /// `GET /api/rights-bundles?{query}`.
    pub fn list_bundles(&self, jwt: &str, query: &str) -> Page<RightsBundle> {
        let path = with_query("/api/rights-bundles", query);
        let r = self.send(Call::get("list_bundles", path).bearer(jwt));
        self.page(r, "rights_bundles")
    }

    /// `POST /api/rights-bundles`; no permissions leaves the field out.
    pub fn try_create_bundle(&self, jwt: &str, name: &str, permissions: &[&str]) -> Response {
        let call = Call::post("create_bundle", "/api/rights-bundles").bearer(jwt);
        self.send(call.json(named_body(name, permissions)))
    }

    pub fn create_bundle(&self, jwt: &str, name: &str, permissions: &[&str]) -> RightsBundle {
        self.expect(self.try_create_bundle(jwt, name, permissions), 201)
    }

    /// `PUT /api/rights-bundles/{id}/permissions`.
    pub fn set_bundle_permissions(
        &self,
        jwt: &str,
        id: &str,
        permissions: &[&str],
    ) -> RightsBundle {
        let path = format!("/api/rights-bundles/{id}/permissions");
        let call = Call::put("set_bundle_permissions", path).bearer(jwt);
        self.expect(self.send(call.json(permissions_body(permissions))), 200)
    }

    /// `POST /api/rights-bundles/{id}/orgs`.
    pub fn try_publish_bundle(&self, jwt: &str, id: &str, org: &str) -> Response {
        let call = Call::post("publish_bundle", format!("/api/rights-bundles/{id}/orgs"));
        self.send(call.bearer(jwt).json(json!({ "org": org })))
    }

    pub fn publish_bundle(&self, jwt: &str, id: &str, org: &str) -> RightsBundle {
        self.expect(self.try_publish_bundle(jwt, id, org), 200)
    }

    /// `DELETE /api/rights-bundles/{id}/orgs/{org}`.
    pub fn try_withdraw_bundle(&self, jwt: &str, id: &str, org: &str) -> Response {
        let path = format!("/api/rights-bundles/{id}/orgs/{}", encoded(org));
        self.send(Call::delete("withdraw_bundle", path).bearer(jwt))
    }

    pub fn withdraw_bundle(&self, jwt: &str, id: &str, org: &str) -> RightsBundle {
        self.expect(self.try_withdraw_bundle(jwt, id, org), 200)
    }

    // -- orgs -------------------------------------------------------------------

    /// `GET /api/org?{query}`.
    pub fn list_orgs(&self, jwt: &str, query: &str) -> Page<Org> {
        let path = with_query("/api/org", query);
        self.page(self.send(Call::get("list_orgs", path).bearer(jwt)), "orgs")
    }

    /// Every org in the caller's view (the first page, which holds them
    /// all in these tests).
    pub fn orgs(&self, jwt: &str) -> Vec<Org> {
        self.list_orgs(jwt, "").items
    }

    /// `GET /api/org/{id}`.
    pub fn try_org(&self, jwt: &str, id: &str) -> Response {
        self.send(Call::get("org", format!("/api/org/{id}")).bearer(jwt))
    }

    /// `POST /api/org`.
    pub fn try_create_org(&self, jwt: &str, name: &str) -> Response {
        let call = Call::post("create_org", "/api/org").bearer(jwt);
        self.send(call.json(json!({ "name": name })))
    }

    pub fn create_org(&self, jwt: &str, name: &str) -> Org {
        self.expect(self.try_create_org(jwt, name), 201)
    }
}
