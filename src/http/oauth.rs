//! The exchange endpoints: the console's `authorize` and the RFC 6749 §6
//! refresh-token grant at `/oauth/provider/token` and
//! `/oauth/tenant/{org}/token`. Both answer errors per RFC 6749 §5.2 and
//! mark every answer `no-store`.

use serde_json::{json, Value};

use super::error::{ApiError, OAuthError};
use super::request::Request;
use super::response::Response;
use super::session::{authenticate, dpop_proof};
use crate::domain::{
    format_time, Authority, CheckedProof, Committing, CreatedApiToken, DomainError,
    ExchangeAudience, ExchangeRequest, IssuedAccess, NewServiceAccountRequest,
};
use crate::shapes::service_account_json;

/// `POST /csp/gateway/am/api/auth/api-tokens/authorize`: `refresh_token` in a
/// form body or, as real scripts send it, in the query string.
pub fn authorize(authority: &mut Authority, request: &Request) -> Result<Response, OAuthError> {
    let mut params = request.query_params()?;
    params.extend(request.form_body()?);
    let token = required(&params, "refresh_token")?;
    let proof = token_request_proof(authority, request)?;
    let mut exchange = exchange_request(&params)?;
    exchange.dpop = proof.as_ref();
    let Committing {
        value: issued,
        commit,
    } = authority.exchange_api_token(token, ExchangeAudience::AnyOrg, &exchange, request.peer)?;
    // The console's dialect: ALL_PERMISSIONS only when the grant really is
    // every permission the user holds.
    let scope = if issued.grants_everything {
        "ALL_PERMISSIONS".to_string()
    } else {
        issued.grant.permissions.join(" ")
    };
    let token_type = if issued.dpop_bound { "DPoP" } else { "bearer" };
    Ok(
        Response::json(200, &token_answer(&issued, token_type, scope))
            .no_store()
            .after(commit, oauth_error),
    )
}

pub fn provider_token(
    authority: &mut Authority,
    request: &Request,
) -> Result<Response, OAuthError> {
    refresh_token_grant(authority, request, ExchangeAudience::Provider)
}

pub fn tenant_token(
    authority: &mut Authority,
    request: &Request,
    org: &str,
) -> Result<Response, OAuthError> {
    refresh_token_grant(authority, request, ExchangeAudience::Tenant(org))
}

/// RFC 6749 §6. `resource` and `audience` name the services the access
/// token is for, `client_id` the client; other parameters (`scope`, ...)
/// are ignored: a token grants what its user holds, not what the request
/// asks.
fn refresh_token_grant(
    authority: &mut Authority,
    request: &Request,
    audience: ExchangeAudience<'_>,
) -> Result<Response, OAuthError> {
    let params = request.form_body()?;
    let grant_type = required(&params, "grant_type")?;
    if grant_type == JWT_BEARER {
        return jwt_bearer_grant(authority, request, &params, audience);
    }
    if grant_type == DEVICE_CODE {
        return device_code_grant(authority, request, &params, audience);
    }
    if grant_type != "refresh_token" {
        return Err(OAuthError::unsupported_grant_type(grant_type));
    }
    let token = required(&params, "refresh_token")?;
    let proof = token_request_proof(authority, request)?;
    let mut exchange = exchange_request(&params)?;
    exchange.dpop = proof.as_ref();
    let Committing {
        value: issued,
        commit,
    } = authority.exchange_api_token(token, audience, &exchange, request.peer)?;
    // RFC 6749 §5.1: the scope granted, space-delimited.
    let scope = issued.grant.permissions.join(" ");
    // RFC 9449 §5: a bound token's type is DPoP.
    let token_type = if issued.dpop_bound { "DPoP" } else { "Bearer" };
    Ok(
        Response::json(200, &token_answer(&issued, token_type, scope))
            .no_store()
            .after(commit, oauth_error),
    )
}

/// The request's DPoP proof, checked (RFC 9449 §4.3); None without one.
fn token_request_proof(
    authority: &Authority,
    request: &Request,
) -> Result<Option<CheckedProof>, OAuthError> {
    let Some(proof) = dpop_proof(request)? else {
        return Ok(None);
    };
    Ok(Some(authority.check_token_request_proof(
        proof,
        &request.method,
        &request.path,
    )?))
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// RFC 8628 §3.4: a service account's client polls with its device code;
/// once an admin granted it, its first API token comes as `refresh_token`
/// with an access token.
fn device_code_grant(
    authority: &mut Authority,
    request: &Request,
    params: &[(String, String)],
    audience: ExchangeAudience<'_>,
) -> Result<Response, OAuthError> {
    let client_id = required(params, "client_id")?;
    let device_code = required(params, "device_code")?;
    let resources = resources(params);
    let (created, issued) = authority.exchange_device_code(
        client_id,
        device_code,
        audience,
        &resources,
        request.peer,
    )?;
    Ok(new_token_answer(&created, issued))
}

/// The answer of a grant that made a new API token: the token answer with
/// the new token as `refresh_token`, shown this once.
fn new_token_answer(created: &CreatedApiToken, issued: Committing<IssuedAccess>) -> Response {
    let Committing {
        value: issued,
        commit,
    } = issued;
    let mut answer = token_answer(&issued, "Bearer", issued.grant.permissions.join(" "));
    answer["refresh_token"] = json!(created.secret.reveal());
    Response::json(200, &answer)
        .no_store()
        .after(commit, oauth_error)
}

/// `POST /oauth/{provider | tenant/{org}}/device_authorization` (RFC 8628
/// §3.1): a service account's client asks for access; an admin grants it
/// by the user code.
pub fn device_authorization(
    authority: &mut Authority,
    request: &Request,
    audience: ExchangeAudience<'_>,
) -> Result<Response, OAuthError> {
    let params = request.form_body()?;
    let client_id = required(&params, "client_id")?;
    let codes = match authority.authorize_device(client_id, audience, request.peer) {
        Ok(codes) => codes,
        Err(DomainError::NotFound(_)) => return Err(OAuthError::invalid_client()),
        Err(e) => return Err(e.into()),
    };
    // A person opens the console's approval page; RFC 8628 §3.3.1's
    // complete form carries the code, for a link or a QR code.
    let verification_uri = format!("{}/console/device", authority.settings().issuer);
    let verification_uri_complete = format!("{verification_uri}?user_code={}", codes.user_code);
    Ok(Response::json(
        200,
        &json!({
            "device_code": codes.device_code,
            "user_code": codes.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": verification_uri_complete,
            "expires_in": codes.expires_in,
            "interval": codes.interval,
        }),
    )
    .no_store())
}

/// RFC 7523, as Cloud Director offers it: `client_id` (a client the user
/// registered) and `assertion` (its password session's access token) give,
/// once per client, a new API token as `refresh_token` with an access token.
fn jwt_bearer_grant(
    authority: &mut Authority,
    request: &Request,
    params: &[(String, String)],
    audience: ExchangeAudience<'_>,
) -> Result<Response, OAuthError> {
    let client_id = required(params, "client_id")?;
    let assertion = required(params, "assertion")?;
    let resources = resources(params);
    let (created, issued) =
        authority.exchange_jwt_bearer(client_id, assertion, audience, &resources, request.peer)?;
    Ok(new_token_answer(&created, issued))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientRegistration {
    client_name: String,
    /// Present: a service account is meant, not a client of the caller's.
    software_id: Option<String>,
    software_version: Option<String>,
    client_uri: Option<String>,
    role: Option<String>,
    /// OpenID Connect Registration: RS256 (the default) or ES256.
    id_token_signed_response_alg: Option<String>,
}

/// `POST /oauth/{provider | tenant/{org}}/register`: a client of the
/// caller's, for the JWT-bearer grant; or, with `software_id`, a service
/// account of the endpoint's org, for the device grant.
pub fn register(
    authority: &mut Authority,
    request: &Request,
    audience: ExchangeAudience<'_>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: ClientRegistration = request.json_body()?;
    if let Some(software_id) = &body.software_id {
        let account = authority.register_service_account(
            &caller,
            audience,
            NewServiceAccountRequest {
                name: &body.client_name,
                software_id,
                software_version: body.software_version.as_deref(),
                client_uri: body.client_uri.as_deref(),
                role: body.role.as_deref(),
                id_token_alg: body.id_token_signed_response_alg.as_deref(),
            },
        )?;
        let mut answer = service_account_json(&account);
        answer["client_id"] = json!(account.id);
        answer["client_name"] = json!(account.name);
        answer["grant_types"] = json!([DEVICE_CODE, "refresh_token"]);
        answer["token_endpoint_auth_method"] = json!("none");
        answer["client_id_issued_at"] = json!(account.created_at);
        answer["id_token_signed_response_alg"] = json!(body
            .id_token_signed_response_alg
            .as_deref()
            .unwrap_or("RS256"));
        return Ok(Response::json(200, &answer).no_store());
    }
    if body.software_version.is_some() || body.client_uri.is_some() || body.role.is_some() {
        return Err(ApiError::from(DomainError::Invalid(
            "software_version, client_uri and role describe a service account: give software_id"
                .into(),
        )));
    }
    let client = authority.register_oauth_client(
        &caller,
        audience,
        &body.client_name,
        body.id_token_signed_response_alg.as_deref(),
    )?;
    Ok(Response::json(
        200,
        &json!({
            "client_id": client.id,
            "client_name": client.name,
            "grant_types": [JWT_BEARER],
            "token_endpoint_auth_method": "none",
            "client_id_issued_at": client.created_at,
            "id_token_signed_response_alg":
                body.id_token_signed_response_alg.as_deref().unwrap_or("RS256"),
        }),
    )
    .no_store())
}

/// `DELETE /oauth/{provider | tenant/{org}}/register/{client_id}`: the
/// client goes, and the API token it took is revoked.
pub fn delete_client(
    authority: &mut Authority,
    request: &Request,
    client_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    authority.delete_oauth_client(&caller, client_id)?;
    Ok(Response::no_content())
}

/// `POST /oauth/revoke` (RFC 7009): `token` is an API token, which is
/// revoked, or an access token tokend issued, which stops working at once.
/// Any other token is answered the same way: 200, so the answer tells
/// nothing. `token_type_hint` is accepted and not needed: the two kinds
/// cannot be mistaken for each other.
pub fn revoke(authority: &mut Authority, request: &Request) -> Result<Response, OAuthError> {
    let params = request.form_body()?;
    let token = required(&params, "token")?;
    authority.revoke_presented_token(token, request.peer)?;
    Ok(Response::empty(200).no_store())
}

/// `POST /oauth/introspect` (RFC 7662): a resource server, authenticated with
/// its service's client credentials (HTTP Basic, form-urlencoded as RFC 6749
/// §2.3.1 has it, or `client_id` and `client_secret` in the form), asks
/// about an access token `token`. Inactive tokens (and every API token)
/// get `{"active": false}` and nothing else.
pub fn introspect(authority: &mut Authority, request: &Request) -> Result<Response, OAuthError> {
    let params = request.form_body()?;
    let (client_id, secret) = match request
        .oauth_client_credentials()
        .map_err(|_| OAuthError::invalid_client())?
    {
        Some(pair) => pair,
        None => match (
            optional(&params, "client_id")?,
            optional(&params, "client_secret")?,
        ) {
            (Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
            _ => return Err(OAuthError::invalid_client()),
        },
    };
    match authority.authenticate_introspection_client(&client_id, &secret, request.peer) {
        Ok(_) => {}
        Err(DomainError::Unauthenticated(_)) => return Err(OAuthError::invalid_client()),
        Err(e) => return Err(e.into()),
    }
    let token = required(&params, "token")?;
    let answer = match authority.introspect(token, request.peer)? {
        None => json!({ "active": false }),
        Some(active) => {
            let mut answer = json!({
                "active": true,
                // RFC 6750's type, as RFC 7662 §2.2 asks, or RFC 9449's.
                "token_type": if active.dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
                "scope": active.scope,
                "sub": active.sub,
                "username": active.username,
                "iat": active.iat,
                "iss": authority.settings().issuer,
                "aud": if active.aud.len() == 1 { json!(active.aud[0]) } else { json!(active.aud) },
                "jti": active.token_id,
                "org_id": active.org_id,
                "org_name": active.org_name,
                "token_id": active.token_id,
            });
            if let Some(exp) = active.exp {
                answer["exp"] = json!(exp);
            }
            if let Some(client_id) = active.client_id {
                answer["client_id"] = json!(client_id);
            }
            if let Some(origin) = active.origin {
                answer["origin"] = json!(origin);
            }
            if let Some(jkt) = active.dpop_jkt {
                answer["cnf"] = json!({ "jkt": jkt });
            }
            answer
        }
    };
    Ok(Response::json(200, &answer).no_store())
}

/// `/oauth/authorize`: tokend issues tokens for API tokens only, never
/// through a browser flow, so every authorization request is refused
/// (RFC 6749 §4.1.2.1), and not redirected: no client is registered whose
/// redirection URI could be trusted. It exists because OpenID Connect
/// Discovery requires an authorization endpoint in the metadata.
pub fn authorization() -> OAuthError {
    OAuthError::unsupported_response_type()
}

fn oauth_error(e: DomainError) -> Response {
    OAuthError::from(e).into_response()
}

/// A parameter that must be present once; per RFC 6749 §3.1 an empty value
/// counts as absent and a repeated one is an error.
fn required<'a>(params: &'a [(String, String)], name: &str) -> Result<&'a str, OAuthError> {
    optional(params, name)?
        .ok_or_else(|| OAuthError::invalid_request(format!("parameter {name} is required")))
}

/// A parameter that may be present once; empty counts as absent.
fn optional<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, OAuthError> {
    let mut values = params.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
    match (values.next(), values.next()) {
        (_, Some(_)) => Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        ))),
        (Some(value), None) if !value.is_empty() => Ok(Some(value)),
        _ => Ok(None),
    }
}

/// The client and the services an exchange names: `client_id`, and every
/// `resource` (RFC 8707, repeatable) and `audience` (RFC 8693).
fn exchange_request(params: &[(String, String)]) -> Result<ExchangeRequest<'_>, OAuthError> {
    Ok(ExchangeRequest {
        client_id: optional(params, "client_id")?,
        resources: resources(params),
        dpop: None,
    })
}

/// Every non-empty `resource` and `audience` value.
fn resources(params: &[(String, String)]) -> Vec<&str> {
    params
        .iter()
        .filter(|(name, value)| (name == "resource" || name == "audience") && !value.is_empty())
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The token answer of RFC 6749 §5.1, with the ID token when there is one
/// (OpenID Connect Core §3.1.3.3) and `openid` in its scope then.
fn token_answer(issued: &IssuedAccess, token_type: &str, scope: String) -> Value {
    let mut answer = json!({
        "access_token": issued.access_token,
        "token_type": token_type,
        "expires_in": issued.expires_in,
        "scope": scope,
    });
    // When the API token stops working, so a client can warn before; left
    // out for one that never expires (strict clients refuse a null).
    if let Some(at) = issued.api_token_expires_at {
        answer["api_token_expires_at"] = json!(format_time(at));
    }
    if let Some(id_token) = &issued.id_token {
        answer["id_token"] = json!(id_token);
        answer["scope"] = json!(format!("{scope} openid").trim_start());
    }
    // A service account's token was replaced: the new one, once.
    if let Some(replacement) = &issued.refresh_token {
        answer["refresh_token"] = json!(replacement.reveal());
    }
    answer
}
