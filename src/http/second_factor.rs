//! A second factor for password logins: one's own enrolment at
//! `/api/users/me/2fa` (begin, confirm, status, turn off), and an admin's
//! reset at `/api/users/{id}/2fa`.

use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, BadRequest, OTP_HEADER};
use super::request::Request;
use super::response::Response;
use super::session::{authenticate, authenticate_for_enrolment};
use crate::domain::{Actor, Authority};
use crate::shapes::user_json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

/// `GET /api/users/me/2fa`: whether one is enrolled, pending, required,
/// and how many recovery codes are left.
pub fn status(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate_for_enrolment(authority, request)?;
    let status = authority.second_factor_status(&caller)?;
    Ok(Response::json(
        200,
        &json!({
            "enrolled": status.enrolled,
            "pending": status.pending,
            "required": status.required,
            "recovery_codes_left": status.recovery_codes_left,
        }),
    ))
}

/// `POST /api/users/me/2fa`: begins an enrolment; the secret, once.
pub fn begin(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate_for_enrolment(authority, request)?;
    let enrolment = authority.begin_second_factor(&caller)?;
    Ok(Response::json(
        201,
        &json!({
            "status": "pending",
            "otpauth_uri": enrolment.uri,
            "secret": enrolment.secret,
        }),
    )
    .no_store())
}

/// `POST /api/users/me/2fa/confirm` `{"code"}`: enrols; the recovery
/// codes, once.
pub fn confirm(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate_for_enrolment(authority, request)?;
    let body: CodeBody = request.json_body()?;
    let codes = authority.confirm_second_factor(&caller, &body.code)?;
    Ok(Response::json(
        200,
        &json!({ "status": "enrolled", "recovery_codes": codes }),
    )
    .no_store())
}

/// `DELETE /api/users/me/2fa`, with a current code in `X-Tokend-OTP`.
pub fn disable(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let code = request.single_header(OTP_HEADER)?.ok_or_else(|| {
        BadRequest::Malformed(format!(
            "turning the second factor off needs a current code in {OTP_HEADER}"
        ))
    })?;
    authority.disable_second_factor(&caller, code)?;
    Ok(Response::no_content())
}

/// `DELETE /api/users/{id}/2fa`: an admin's reset.
pub fn reset(authority: &mut Authority, request: &Request, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let by = Actor::Caller(&caller);
    let user = authority.user_by_id(by, id)?;
    let user = authority.reset_second_factor(by, &user)?;
    Ok(Response::json(200, &user_json(&user)))
}
