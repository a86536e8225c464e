//! The typed client's calls about users at `/api/users`: listing them
//! (the query string as the API documents it, e.g. `name=ALI&page=2`),
//! finding one's id, adding, disabling and enabling them, passwords (one's
//! own as `me`, with the current one; another's without), and granting
//! and revoking their roles.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::super::wire::Response;
use super::super::USER_PASSWORD;
use super::{encoded, with_query, Call, Client, Entry, Named, Page};

/// A user as `/api/users` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub org: Named,
    pub enabled: bool,
}

impl User {
    /// `username@org`, as the user logs in.
    pub fn login_name(&self) -> String {
        format!("{}@{}", self.username, self.org.name)
    }
}

impl Entry for User {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.username
    }
}

impl Page<User> {
    /// Each user as `username@org`, in the listing's order.
    pub fn login_names(&self) -> Vec<String> {
        self.items.iter().map(User::login_name).collect()
    }
}

/// The body of `POST /api/users`: `username` in `org` with
/// `USER_PASSWORD`, unless set otherwise. A field left `None` is left out.
#[derive(Debug, Clone, Serialize)]
pub struct NewUser {
    pub username: String,
    pub org: String,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl NewUser {
    pub fn new(username: &str, org: &str) -> NewUser {
        NewUser {
            username: username.to_owned(),
            org: org.to_owned(),
            password: USER_PASSWORD.to_owned(),
            email: None,
            name: None,
            roles: None,
        }
    }

    pub fn password(mut self, password: &str) -> NewUser {
        self.password = password.to_owned();
        self
    }

    pub fn email(mut self, email: &str) -> NewUser {
        self.email = Some(email.to_owned());
        self
    }

    /// The user's full name.
    pub fn full_name(mut self, name: &str) -> NewUser {
        self.name = Some(name.to_owned());
        self
    }

    pub fn roles(mut self, roles: &[&str]) -> NewUser {
        self.roles = Some(roles.iter().map(|r| r.to_string()).collect());
        self
    }
}

impl Client {
    /// `GET /api/users?{query}`.
    pub fn try_list_users(&self, jwt: &str, query: &str) -> Response {
        let path = with_query("/api/users", query);
        self.send(Call::get("list_users", path).bearer(jwt))
    }

    pub fn list_users(&self, jwt: &str, query: &str) -> Page<User> {
        self.page(self.try_list_users(jwt, query), "users")
    }

    /// The id of `user@org`, as `jwt` lists it.
    pub fn user_id(&self, jwt: &str, user: &str) -> String {
        let (name, org) = user
            .split_once('@')
            .unwrap_or_else(|| panic!("{user:?} is not user@org"));
        let query = format!("name={}&org={}", encoded(name), encoded(org));
        self.list_users(jwt, &query).id_of(name)
    }

    /// `GET /api/users/{id}`.
    pub fn try_user(&self, jwt: &str, id: &str) -> Response {
        self.send(Call::get("user", format!("/api/users/{id}")).bearer(jwt))
    }

    /// `POST /api/users`.
    pub fn try_create_user(&self, jwt: &str, user: &NewUser) -> Response {
        self.send(
            Call::post("create_user", "/api/users")
                .bearer(jwt)
                .json(user),
        )
    }

    pub fn create_user(&self, jwt: &str, user: &NewUser) -> User {
        self.expect(self.try_create_user(jwt, user), 201)
    }

    /// `POST /api/users/{id}/disable`.
    pub fn try_disable_user(&self, jwt: &str, id: &str) -> Response {
        let path = format!("/api/users/{id}/disable");
        self.send(Call::post("disable_user", path).bearer(jwt))
    }

    pub fn disable_user(&self, jwt: &str, id: &str) -> User {
        self.expect(self.try_disable_user(jwt, id), 200)
    }

    /// `POST /api/users/{id}/enable`.
    pub fn enable_user(&self, jwt: &str, id: &str) -> User {
        let path = format!("/api/users/{id}/enable");
        self.expect(self.send(Call::post("enable_user", path).bearer(jwt)), 200)
    }

    /// `PUT /api/users/{user}/password`; `user` is an id or `me`, and
    /// `current` the current password (one's own needs it).
    pub fn try_set_password(
        &self,
        jwt: &str,
        user: &str,
        current: Option<&str>,
        new: &str,
    ) -> Response {
        let body = match current {
            Some(current) => json!({ "current_password": current, "new_password": new }),
            None => json!({ "new_password": new }),
        };
        let path = format!("/api/users/{user}/password");
        self.send(Call::put("set_password", path).bearer(jwt).json(body))
    }

    pub fn set_password(&self, jwt: &str, user: &str, current: Option<&str>, new: &str) {
        self.expect_status(self.try_set_password(jwt, user, current, new), 204);
    }

    /// `POST /api/users/{id}/roles`.
    pub fn try_grant_user_role(&self, jwt: &str, user: &str, role: &str) -> Response {
        let call = Call::post("grant_user_role", format!("/api/users/{user}/roles"));
        self.send(call.bearer(jwt).json(json!({ "role": role })))
    }

    pub fn grant_user_role(&self, jwt: &str, user: &str, role: &str) {
        self.expect_status(self.try_grant_user_role(jwt, user, role), 204);
    }

    /// `DELETE /api/users/{id}/roles/{role}`.
    pub fn try_revoke_user_role(&self, jwt: &str, user: &str, role: &str) -> Response {
        let path = format!("/api/users/{user}/roles/{}", encoded(role));
        self.send(Call::delete("revoke_user_role", path).bearer(jwt))
    }

    pub fn revoke_user_role(&self, jwt: &str, user: &str, role: &str) {
        self.expect_status(self.try_revoke_user_role(jwt, user, role), 204);
    }
}
