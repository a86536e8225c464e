//! The typed client's calls about service accounts: their administration
//! at `/api/service-accounts` (registering one is `Client::register` with
//! `Registration::service_account`), the client's side of the RFC 8628
//! device grant (device authorization, polling with the device code), and
//! the admin's side at `/cloudapi/1.0.0/deviceLookup` (look up, grant,
//! deny).

use serde::Deserialize;
use serde_json::json;

use super::super::wire::{form_encode, Response};
use super::{with_query, Call, Client, Endpoint, Page};

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A service account as `/api/service-accounts` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    /// `CREATED`, `REQUESTED`, `GRANTED` or `ACTIVE`.
    pub status: String,
}

/// A device request as an admin decides on it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRequest {
    pub client_name: String,
    /// The service account's status.
    pub status: String,
}

/// What an admin does with a user code.
#[derive(Clone, Copy)]
enum Decision {
    Lookup,
    Grant,
    Deny,
}

impl Client {
    // -- administration ---------------------------------------------------------

    /// `GET /api/service-accounts?{query}`.
    pub fn list_service_accounts(&self, jwt: &str, query: &str) -> Page<ServiceAccount> {
        let path = with_query("/api/service-accounts", query);
        let r = self.send(Call::get("list_service_accounts", path).bearer(jwt));
        self.page(r, "service_accounts")
    }

    /// `GET /api/service-accounts/{id}`.
    pub fn try_service_account(&self, jwt: &str, id: &str) -> Response {
        let path = format!("/api/service-accounts/{id}");
        self.send(Call::get("service_account", path).bearer(jwt))
    }

    pub fn service_account(&self, jwt: &str, id: &str) -> ServiceAccount {
        self.expect(self.try_service_account(jwt, id), 200)
    }

    /// `PUT /api/service-accounts/{id}/role`.
    pub fn set_service_account_role(&self, jwt: &str, id: &str, role: &str) -> ServiceAccount {
        let path = format!("/api/service-accounts/{id}/role");
        let call = Call::put("set_service_account_role", path).bearer(jwt);
        self.expect(self.send(call.json(json!({ "role": role }))), 200)
    }

    /// `POST /api/service-accounts/{id}/revoke`: its tokens revoked, and
    /// `CREATED` again.
    pub fn revoke_service_account(&self, jwt: &str, id: &str) -> ServiceAccount {
        let path = format!("/api/service-accounts/{id}/revoke");
        let call = Call::post("revoke_service_account", path).bearer(jwt);
        self.expect(self.send(call), 200)
    }

    /// `DELETE /api/service-accounts/{id}`.
    pub fn delete_service_account(&self, jwt: &str, id: &str) {
        let path = format!("/api/service-accounts/{id}");
        let call = Call::delete("delete_service_account", path).bearer(jwt);
        self.expect_status(self.send(call), 204);
    }

    // -- the client's side of the device grant -----------------------------------

    /// `POST /oauth/{provider|tenant/{org}}/device_authorization`.
    pub fn try_device_authorization(&self, at: Endpoint<'_>, client_id: &str) -> Response {
        let path = format!("{}/device_authorization", at.prefix());
        let call = Call::post("device_authorization", path);
        self.send(call.form(format!("client_id={client_id}")))
    }

    /// The device-code grant at `at`'s token endpoint.
    pub fn try_device_token(
        &self,
        at: Endpoint<'_>,
        client_id: &str,
        device_code: &str,
    ) -> Response {
        let body = format!(
            "grant_type={}&client_id={client_id}&device_code={device_code}",
            form_encode(DEVICE_CODE)
        );
        let call = Call::post("device_token", format!("{}/token", at.prefix()));
        self.send(call.form(body))
    }

    // -- the admin's side of the device grant ------------------------------------

    fn try_decide(&self, jwt: &str, decision: Decision, user_code: &str) -> Response {
        let (name, path) = match decision {
            Decision::Lookup => ("device_lookup", "/cloudapi/1.0.0/deviceLookup"),
            Decision::Grant => ("device_grant", "/cloudapi/1.0.0/deviceLookup/grant"),
            Decision::Deny => ("device_deny", "/cloudapi/1.0.0/deviceLookup/deny"),
        };
        let call = Call::post(name, path).bearer(jwt);
        self.send(call.json(json!({ "userCode": user_code })))
    }

    /// `POST /cloudapi/1.0.0/deviceLookup`: the pending request of a
    /// user code.
    pub fn try_device_lookup(&self, jwt: &str, user_code: &str) -> Response {
        self.try_decide(jwt, Decision::Lookup, user_code)
    }

    pub fn device_lookup(&self, jwt: &str, user_code: &str) -> DeviceRequest {
        self.expect(self.try_device_lookup(jwt, user_code), 200)
    }

    /// `POST /cloudapi/1.0.0/deviceLookup/grant`.
    pub fn try_device_grant(&self, jwt: &str, user_code: &str) -> Response {
        self.try_decide(jwt, Decision::Grant, user_code)
    }

    pub fn device_grant(&self, jwt: &str, user_code: &str) -> DeviceRequest {
        self.expect(self.try_device_grant(jwt, user_code), 200)
    }

    /// `POST /cloudapi/1.0.0/deviceLookup/deny`.
    pub fn try_device_deny(&self, jwt: &str, user_code: &str) -> Response {
        self.try_decide(jwt, Decision::Deny, user_code)
    }

    pub fn device_deny(&self, jwt: &str, user_code: &str) -> DeviceRequest {
        self.expect(self.try_device_deny(jwt, user_code), 200)
    }
}
