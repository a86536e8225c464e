//! Service accounts end to end over HTTP: registered by an admin with
//! `software_id`, granted through the RFC 8628 device flow (pending,
//! slow_down, grant, deny, expiry, single use), their API token rotating at
//! each refresh, a replayed token revoking the account's access, their
//! rights bounded by their role, and their administration over the API and
//! the CLI. Flows that need time run in-process on a clock the test moves.

use std::thread;

use serde_json::json;

use crate::support::*;

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A service account's client, as automation drives one: its id and the
/// endpoints of its org.
struct Device<'a> {
    api: &'a Client,
    client_id: String,
    endpoint: Endpoint<'a>,
}

impl<'a> Device<'a> {
    /// Registers `account` at `endpoint` with `jwt`, and drives its client.
    fn register(
        api: &'a Client,
        endpoint: Endpoint<'a>,
        jwt: &str,
        account: &Registration,
    ) -> Device<'a> {
        let client_id = api.register(endpoint, jwt, account).client_id;
        Device {
            api,
            client_id,
            endpoint,
        }
    }

    fn authorize(&self) -> Response {
        self.api
            .try_device_authorization(self.endpoint, &self.client_id)
    }

    /// The device code and user code of a new request.
    fn request(&self) -> (String, String) {
        let answer = self.authorize().assert_json("device authorization");
        (
            str_field(&answer, "device_code").to_owned(),
            str_field(&answer, "user_code").to_owned(),
        )
    }

    fn poll(&self, device_code: &str) -> Response {
        self.api
            .try_device_token(self.endpoint, &self.client_id, device_code)
    }

    fn refresh(&self, refresh_token: &str) -> Response {
        self.api.try_refresh(self.endpoint, refresh_token)
    }
}

/// The provider's service account `backup` (Token User) on the in-process
/// service, and the admin's session token.
fn provider_backup(service: &InProcess) -> (Device<'_>, String) {
    let api = service.api();
    let admin = api.admin_login().access_token;
    let registered = api.try_register(
        Endpoint::Provider,
        &admin,
        &Registration::service_account("backup", "backup-agent")
            .version("2.1")
            .role(ROLE_TOKEN_USER),
    );
    registered.assert_status(200, "register a service account");
    registered.assert_no_store("registration");
    let body = registered.json();
    assert_eq!(body["status"], "CREATED");
    assert_eq!(body["roles"], json!([ROLE_TOKEN_USER]));
    assert!(
        body["grant_types"]
            .as_array()
            .is_some_and(|g| g.contains(&json!(DEVICE_CODE))),
        "{body}"
    );
    let device = Device {
        api,
        client_id: str_field(&body, "client_id").to_owned(),
        endpoint: Endpoint::Provider,
    };
    (device, admin)
}

/// Runs the device flow to its first token; the refresh token.
fn first_token(service: &InProcess, device: &Device<'_>, admin: &str) -> String {
    let (device_code, user_code) = device.request();
    service.api().device_grant(admin, &user_code);
    let token = device.poll(&device_code).assert_json("the first token");
    str_field(&token, "refresh_token").to_owned()
}

#[test]
fn a_service_account_goes_from_register_through_the_device_flow_to_rotating_tokens() {
    let service = InProcess::start();
    let api = service.api();
    let (device, admin) = provider_backup(&service);
    let id = device.client_id.clone();

    let request = device.authorize();
    request.assert_no_store("device authorization");
    let request = request.assert_json("device authorization");
    let user_code = str_field(&request, "user_code").to_owned();
    let device_code = str_field(&request, "device_code").to_owned();
    assert_eq!(request["interval"], 5);
    assert_eq!(request["expires_in"], 600);
    let letters: String = user_code.chars().filter(|c| *c != '-').collect();
    assert!(
        user_code.len() == 9
            && letters.len() == 8
            && letters.chars().all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "a short code of an unambiguous alphabet: {user_code}"
    );
    assert_eq!(api.service_account(&admin, &id).status, "REQUESTED");

    // Polling before the admin decides: pending, then slow_down when too fast.
    device
        .poll(&device_code)
        .assert_oauth_error("authorization_pending", "before the grant");
    device
        .poll(&device_code)
        .assert_oauth_error("slow_down", "polling faster than the interval");

    // The admin looks the code up (as typed: any case, no dash) and grants it.
    let typed = letters.to_lowercase();
    let found = api.device_lookup(&admin, &typed);
    assert_eq!(found.client_name, "backup");
    assert_eq!(found.status, "REQUESTED");
    assert_eq!(api.device_grant(&admin, &user_code).status, "GRANTED");

    // After the interval (10 s after slow_down), the first token, once.
    service.advance(11);
    let first = device.poll(&device_code);
    first.assert_no_store("the first token");
    let first = first.assert_json("the first token");
    let rt1 = str_field(&first, "refresh_token").to_owned();
    assert!(is_token_format(&rt1), "{first}");
    assert_eq!(api.service_account(&admin, &id).status, "ACTIVE");
    device
        .poll(&device_code)
        .assert_oauth_error("invalid_grant", "a device code works once");

    // Its access is bounded by its role (Token User: no User: View) ...
    let access = str_field(&first, "access_token").to_owned();
    let session = api.session_info(&access);
    assert_eq!(session.user.name, "backup");
    assert_eq!(session.roles, [ROLE_TOKEN_USER]);
    api.try_list_users(&access, "")
        .assert_error(403, "forbidden", "a Token User lists users");

    // ... and each refresh replaces the token: two rotations.
    let second = device.refresh(&rt1).assert_json("first rotation");
    let rt2 = str_field(&second, "refresh_token").to_owned();
    let third = device.refresh(&rt2).assert_json("second rotation");
    let rt3 = str_field(&third, "refresh_token").to_owned();
    assert!(rt1 != rt2 && rt2 != rt3 && rt1 != rt3);

    // A role change counts at the next refresh.
    api.set_service_account_role(&admin, &id, ROLE_ORG_ADMIN);
    let fourth = device
        .refresh(&rt3)
        .assert_json("refresh after the role change");
    let rt4 = str_field(&fourth, "refresh_token").to_owned();
    // An Organization Administrator views users.
    api.list_users(str_field(&fourth, "access_token"), "");

    // Presenting a replaced token is theft: everything is revoked.
    device
        .refresh(&rt1)
        .assert_oauth_error("invalid_grant", "a replaced token presented again");
    device
        .refresh(&rt4)
        .assert_oauth_error("invalid_grant", "the live token, after the theft");
    assert_eq!(api.service_account(&admin, &id).status, "CREATED");
    let reuse = api
        .recorded_events(&admin, "service_account.token_reuse", 1)
        .remove(0);
    assert_eq!(reuse["target"]["id"], id.as_str());
    let trail = api.try_audit(&admin, "limit=500").text();
    for secret in [&rt1, &rt2, &rt3, &rt4, &device_code] {
        assert!(!trail.contains(secret.as_str()), "no secret in the trail");
    }

    // It never logs in with a password.
    api.try_provider_login("backup@System", "")
        .assert_status(401, "a service account logs in");
}

#[test]
fn denied_expired_and_reused_user_codes_are_refused() {
    let service = InProcess::start();
    let api = service.api();
    let (device, admin) = provider_backup(&service);

    // Denied: the client hears access_denied; the account is CREATED again.
    let (device_code, user_code) = device.request();
    assert_eq!(api.device_deny(&admin, &user_code).status, "CREATED");
    device
        .poll(&device_code)
        .assert_oauth_error("access_denied", "a denied request");

    // Asking again at once is too fast; a newer request replaces the one
    // waiting, and its codes are void.
    let (stale_device_code, stale_user_code) = device.request();
    assert_eq!(
        device.authorize().assert_json("at once")["error"],
        "slow_down",
        "one request per interval"
    );
    service.advance(5);
    let (device_code, user_code) = device.request();
    device
        .poll(&stale_device_code)
        .assert_oauth_error("invalid_grant", "a replaced device code");
    api.try_device_lookup(&admin, &stale_user_code)
        .assert_error(404, "not_found", "a replaced user code");

    // Used twice: a user code is decided once.
    api.device_grant(&admin, &user_code);
    api.try_device_grant(&admin, &user_code).assert_error(
        400,
        "invalid_request",
        "the same code granted again",
    );
    api.try_device_deny(&admin, &user_code).assert_error(
        400,
        "invalid_request",
        "a granted code denied",
    );
    device
        .poll(&device_code)
        .assert_status(200, "the grant stands");

    // Expired: neither the admin nor the client can use it.
    api.revoke_service_account(&admin, &device.client_id);
    let (device_code, user_code) = device.request();
    service.advance(601);
    device
        .poll(&device_code)
        .assert_oauth_error("expired_token", "an expired device code");
    api.try_device_grant(&admin, &user_code).assert_error(
        400,
        "invalid_request",
        "granting an expired code",
    );
    api.try_device_lookup(&admin, "BCDF-GHJK").assert_error(
        404,
        "not_found",
        "a code nobody was given",
    );
}

#[test]
fn two_concurrent_refreshes_with_the_same_token_never_both_succeed() {
    let service = InProcess::start();
    let (device, admin) = provider_backup(&service);
    let refresh_token = first_token(&service, &device, &admin);
    let statuses: Vec<u16> = thread::scope(|scope| {
        let racers: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| device.refresh(&refresh_token).status))
            .collect();
        racers
            .into_iter()
            .map(|racer| racer.join().expect("refresh thread"))
            .collect()
    });
    let won = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(won, 1, "exactly one refresh succeeds: {statuses:?}");
    assert!(statuses.contains(&400), "{statuses:?}");
}

#[test]
fn only_admins_of_the_org_register_grant_and_manage_its_service_accounts() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("dora@other", &[ROLE_ORG_ADMIN]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let carol = api.user_login("carol@acme").access_token;
    let dora = api.user_login("dora@other").access_token;
    let alice = api.user_login("alice@acme").access_token;
    let ci_runner = Registration::service_account("ci-runner", "ci").role(ROLE_TOKEN_USER);
    let acme = Endpoint::Tenant("acme");

    api.try_register(Endpoint::Tenant("other"), &carol, &ci_runner)
        .assert_status(403, "registering in another org");
    api.try_register(acme, &alice, &ci_runner)
        .assert_status(403, "a Token User registers a service account");
    let derived = api
        .exchange_tenant("acme", &api.create_token(&carol, "ci", Some("30m")).secret)
        .access_token;
    api.try_register(acme, &derived, &ci_runner)
        .assert_status(403, "token-derived access registers");
    api.try_register(acme, &carol, &Registration::service_account("x", "bad id"))
        .assert_error(400, "invalid_request", "a software_id with a space");
    api.try_register(
        acme,
        &carol,
        &Registration::service_account("x", "x").role("no such role"),
    )
    .assert_error(400, "invalid_request", "an unknown role");
    let id = api.register(acme, &carol, &ci_runner).client_id;
    api.try_register(acme, &carol, &ci_runner)
        .assert_error(409, "conflict", "the same name again");

    let device = Device {
        api,
        client_id: id.clone(),
        endpoint: Endpoint::Tenant("other"),
    };
    assert_eq!(
        device.authorize().assert_json("wrong org")["error"],
        "invalid_client"
    );
    let device = Device {
        endpoint: acme,
        ..device
    };
    let (device_code, user_code) = device.request();

    // Another org's admin neither sees nor decides it.
    api.try_device_lookup(&dora, &user_code)
        .assert_status(404, "another org's code");
    api.try_device_grant(&dora, &user_code)
        .assert_status(404, "another org's grant");
    api.try_service_account(&dora, &id)
        .assert_status(404, "another org's service account");
    assert_eq!(api.list_service_accounts(&dora, "").total, 0);

    // The admin side of the grant from the CLI, for labs without a console.
    let granted = cli
        .run(&["device", "grant", &user_code], None)
        .ok("device grant");
    assert!(granted.stdout.contains("GRANTED"), "{}", granted.stdout);
    let token = device.poll(&device_code).assert_json("the first token");
    assert_eq!(
        api.session_info(str_field(&token, "access_token"))
            .user
            .name,
        "ci-runner"
    );

    // Listed as a service account, not as a user.
    let listed = api.list_service_accounts(&carol, "name=ci");
    assert_eq!(listed.items[0].status, "ACTIVE");
    let users = api.try_list_users(&carol, "").text();
    assert!(!users.contains("ci-runner"), "{users}");
    let table = cli
        .run(&["service-account", "list"], None)
        .ok("service-account list");
    assert!(table.stdout.contains("ci-runner") && table.stdout.contains("ACTIVE"));

    // Its token revoked by an admin like any token: no access, CREATED.
    let listed = api.token_page(&carol, "all=true&name=ci-runner");
    let token_id = listed.items[0].id.clone();
    api.revoke_token(&carol, &token_id);
    assert_eq!(api.service_account(&carol, &id).status, "CREATED");
    let (device_code, user_code) = device.request();
    cli.run(&["device", "grant", &user_code], None)
        .ok("device grant, again");
    let token = device.poll(&device_code).assert_json("a token again");

    // Revoked from the CLI: the token stops working, the account is CREATED.
    cli.run(&["service-account", "revoke", &id], None)
        .ok("service-account revoke");
    device
        .refresh(str_field(&token, "refresh_token"))
        .assert_oauth_error("invalid_grant", "a revoked service account's token");
    assert_eq!(api.service_account(&carol, &id).status, "CREATED");

    // Deleted over the API: gone.
    api.delete_service_account(&carol, &id);
    api.try_service_account(&carol, &id)
        .assert_status(404, "a deleted service account");
    assert_eq!(
        device.authorize().assert_json("deleted")["error"],
        "invalid_client"
    );

    // Every step is in acme's trail.
    let recorded = kinds(&api.audit(&carol, "limit=500").events);
    for kind in [
        "service_account.create",
        "service_account.device_request",
        "service_account.device_grant",
        "service_account.activate",
        "service_account.revoke",
        "service_account.delete",
    ] {
        assert!(recorded.iter().any(|k| k == kind), "{kind} in {recorded:?}");
    }
}

#[test]
fn revoking_a_service_account_cancels_its_codes_and_lookups_tell_no_code_apart() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.role_add(
        "helpdesk",
        Some("acme"),
        None,
        &[
            "tokend:user.manage",
            "tokend:token.manage-own",
            "tokend:org.view",
        ],
    );
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("hd@acme", &["helpdesk"]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.user_add("dora@other", &[ROLE_ORG_ADMIN]);
    let api = srv.api();
    let carol = api.user_login("carol@acme").access_token;
    let acme = Endpoint::Tenant("acme");
    let device = Device::register(
        api,
        acme,
        &carol,
        &Registration::service_account("ci", "ci").role(ROLE_TOKEN_USER),
    );
    let revoke = || {
        api.revoke_service_account(&carol, &device.client_id);
    };

    // Pending when revoked: the code is denied.
    let (pending, _) = device.request();
    revoke();
    device
        .poll(&pending)
        .assert_oauth_error("access_denied", "a code pending at the revocation");
    // Granted but not redeemed when revoked: denied too, never a token.
    let (granted, user_code) = device.request();
    api.device_grant(&carol, &user_code);
    revoke();
    device
        .poll(&granted)
        .assert_oauth_error("access_denied", "a code granted before the revocation");
    assert_eq!(
        api.service_account(&carol, &device.client_id).status,
        "CREATED"
    );
    // A grant after the revocation still works.
    let (again, user_code) = device.request();
    api.device_grant(&carol, &user_code);
    device.poll(&again).assert_json("a token after a new grant");

    // An unknown code is answered exactly as one the caller may not act on.
    revoke();
    let (_, live) = device.request();
    let unknown = "BCDF-GHJK";
    let answer = |jwt: &str, code: &str| {
        let r = api.try_device_lookup(jwt, code);
        (r.status, r.json())
    };
    let alice = api.user_login("alice@acme").access_token;
    let (status_live, body_live) = answer(&alice, &live);
    assert_eq!(status_live, 403, "no right to decide: {body_live}");
    assert_eq!(
        (status_live, body_live),
        answer(&alice, unknown),
        "a caller without the right"
    );
    let dora = api.user_login("dora@other").access_token;
    let (status_foreign, body_foreign) = answer(&dora, &live);
    assert_eq!(status_foreign, 404, "{body_foreign}");
    assert_eq!(
        (status_foreign, body_foreign.clone()),
        answer(&dora, unknown),
        "another org"
    );
    assert_eq!(
        (404, body_foreign),
        answer(&carol, unknown),
        "the org's admin, unknown"
    );
    api.device_lookup(&carol, &live);

    // A service account above the caller is out of its reach alike.
    let boss = Device::register(
        api,
        acme,
        &carol,
        &Registration::service_account("boss", "ci").role(ROLE_ORG_ADMIN),
    );
    let (_, boss_code) = boss.request();
    let hd = api.user_login("hd@acme").access_token;
    assert_eq!(
        answer(&hd, &boss_code),
        answer(&hd, unknown),
        "above the caller"
    );
    api.try_device_grant(&hd, &boss_code)
        .assert_status(404, "helpdesk grants an admin account");
    api.device_lookup(&hd, &live);
}
