//! The web console at `/console/`: the third face of the same domain
//! operations as the API and the CLI, for people. Pages are rendered here
//! (maud, compiled in), the stylesheet and the small script are embedded
//! at compile time; nothing is fetched from elsewhere.
//!
//! A console session is an API session: logging in opens one, and its
//! access token lives in an `HttpOnly`, `SameSite=Strict` cookie
//! (`__Host-` prefixed and `Secure` when the issuer is https). Every
//! request authenticates with it exactly as the API does, so revocation,
//! disabled users and the rights in force all count. Every form that
//! changes something carries a CSRF token derived from that session and is
//! refused (403) without it or from a foreign `Origin`. Every answer
//! carries a strict Content-Security-Policy (no inline script or style),
//! `no-store`, `nosniff` and `no-referrer`.

/// The value of a `Result` whose error is already the answer to give
/// (the login page, a refusal): `?` for handlers that answer a `Response`
/// either way.
macro_rules! or_answer {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(answer) => return answer,
        }
    };
}

mod admin;
mod pages;
mod second_factor;
mod tokens;

pub use admin::{
    audit, decide_device, device_form, inventory, manage_service_account, policy, revoke_selected,
    service_accounts, set_policy, ServiceAccountAction,
};
pub use second_factor::{
    begin_second_factor, confirm_second_factor, disable_second_factor, login_code,
    second_factor_page,
};
pub use tokens::{create_token, new_token_form, regenerate, revoke, revoke_form, tokens};

use super::error::BadRequest;
use super::request::Request;
use super::response::Response;
use crate::domain::{Authority, Caller, DomainError, LoginEndpoint, LoginSession, PROVIDER_ORG};
use pages::Page;

const STYLESHEET: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     script-src 'self'; img-src 'self'; connect-src 'none'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// `GET /console/`: the caller's tokens, or the login page.
pub fn home(_: &mut Authority, _: &Request) -> Response {
    redirect("/console/tokens")
}

/// `GET /console/assets/console.css`.
pub fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /console/assets/console.js`.
pub fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /console/login`.
pub fn login_form(authority: &mut Authority, request: &Request) -> Response {
    let next = next_page(query_text(request, "next").as_deref());
    if session_caller(authority, request, Admit::Full).is_ok() {
        return redirect(&next);
    }
    html(200, pages::login(None, "", "", &next))
}

/// `POST /console/login`: opens a session as the API's logins do (the
/// throttle and locks included) and keeps its access token in the cookie.
pub fn login(authority: &mut Authority, request: &Request) -> Response {
    if let Err(refused) = same_origin(request) {
        return refused;
    }
    let form = match request.form_body() {
        Ok(form) => form,
        Err(e) => return html(400, pages::login(Some(&bad_request(e)), "", "", "")),
    };
    let user = field(&form, "user").trim().to_string();
    let org = field(&form, "org").trim().to_string();
    let password = field(&form, "password");
    let next = next_page(Some(field(&form, "next")));
    let endpoint = if org.eq_ignore_ascii_case(PROVIDER_ORG) {
        LoginEndpoint::Provider
    } else {
        LoginEndpoint::Tenant
    };
    match authority.login(endpoint, &org, &user, password, None, request.peer) {
        Ok(session) => logged_in(authority, &session, &next),
        // The password was right: the second step asks for the code.
        Err(DomainError::SecondFactorRequired(handle)) => {
            html(200, pages::login_code(None, &handle, &next))
        }
        Err(DomainError::LoginLocked(seconds)) => html(
            429,
            pages::login(
                Some(&format!(
                    "too many failed logins: try again in {seconds} seconds"
                )),
                &user,
                &org,
                &next,
            ),
        )
        .with_header("Retry-After", seconds.to_string()),
        Err(DomainError::InvalidCredentials) => html(
            401,
            pages::login(
                Some("wrong user, organization or password"),
                &user,
                &org,
                &next,
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// A session opened: its access token in the cookie, and on to `next`,
/// or to the enrolment page for a session that may only enrol.
fn logged_in(authority: &Authority, session: &LoginSession, next: &str) -> Response {
    let max_age = (session.expires_at - authority.now()).max(0);
    let to = if session.enrol_only {
        "/console/2fa"
    } else {
        next
    };
    redirect(to).with_header(
        "Set-Cookie",
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            cookie_name(authority),
            session.access_token,
            secure_flag(authority)
        ),
    )
}

/// `POST /console/logout`: ends the session and forgets the cookie.
pub fn logout(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm { caller, .. } =
        or_answer!(form_with_session_for(authority, request, Admit::EnrolOnly));
    if let Err(e) = authority.logout(&caller) {
        return error_page(e);
    }
    redirect("/console/login").with_header(
        "Set-Cookie",
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            cookie_name(authority),
            secure_flag(authority)
        ),
    )
}

/// `GET /console/account`: what the caller holds, and through what: its
/// roles with their permissions (as the org's rights bundles cap them),
/// its groups, and the rights in force now.
pub fn account(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| account_page(authority, request))
}

fn account_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = or_answer!(session(authority, request));
    let found = authority
        .identity(&caller)
        .and_then(|identity| Ok((identity, authority.role_sources(&caller)?)));
    match found {
        Ok((identity, sources)) => html(
            200,
            pages::account(
                &Page::new(&caller, &jwt),
                &caller,
                &identity.groups,
                &sources,
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// A page that only reads: all its reads, authentication included, are
/// one read transaction.
fn one_read(authority: &Authority, page: impl FnOnce(&Authority) -> Response) -> Response {
    authority
        .reading(|authority| Ok(page(authority)))
        .unwrap_or_else(error_page)
}

/// The caller of a console page, or the way to the login page (or, for a
/// session that may only enrol a second factor, to the enrolment page).
fn session(authority: &Authority, request: &Request) -> Result<(Caller, String), Response> {
    session_caller(authority, request, Admit::Full).map_err(|refusal| {
        if refusal == Refusal::EnrolFirst {
            return redirect("/console/2fa");
        }
        let here = if request.query.is_empty() {
            request.path.clone()
        } else {
            format!("{}?{}", request.path, request.query)
        };
        let next: String = url_encode(&here);
        redirect(&format!("/console/login?next={next}"))
    })
}

/// Where to go after logging in: a console page, never another site.
fn next_page(asked: Option<&str>) -> String {
    match asked {
        Some(path)
            if path.starts_with("/console/")
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => "/console/tokens".to_string(),
    }
}

fn url_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Which sessions a page admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// Sessions that may do what their user may.
    Full,
    /// Those, and sessions that may only enrol a second factor.
    EnrolOnly,
}

/// Why there is no caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NoSession,
    /// A session that may only enrol a second factor.
    EnrolFirst,
}

fn session_caller(
    authority: &Authority,
    request: &Request,
    admit: Admit,
) -> Result<(Caller, String), Refusal> {
    let jwt = cookie(request, &cookie_name(authority)).ok_or(Refusal::NoSession)?;
    let caller = match admit {
        Admit::Full => authority.authenticate(&jwt, request.peer),
        Admit::EnrolOnly => authority.authenticate_for_enrolment(&jwt, request.peer),
    };
    match caller {
        Ok(caller) => Ok((caller, jwt)),
        Err(DomainError::SecondFactorEnrolmentRequired) => Err(Refusal::EnrolFirst),
        Err(_) => Err(Refusal::NoSession),
    }
}

/// A form that may change something: sent within a live session, with
/// that session's CSRF token, from this site.
struct SignedForm {
    caller: Caller,
    jwt: String,
    fields: Vec<(String, String)>,
}

/// A state-changing form: a live session, the same origin, and the CSRF
/// token of that session; else 403 and nothing changes.
fn form_with_session(authority: &Authority, request: &Request) -> Result<SignedForm, Response> {
    form_with_session_for(authority, request, Admit::Full)
}

fn form_with_session_for(
    authority: &Authority,
    request: &Request,
    admit: Admit,
) -> Result<SignedForm, Response> {
    same_origin(request)?;
    let (caller, jwt) =
        session_caller(authority, request, admit).map_err(|refusal| match refusal {
            Refusal::EnrolFirst => forbidden("set up a second factor first (Two-factor login)"),
            Refusal::NoSession => forbidden("your session has ended; log in again"),
        })?;
    let form = request
        .form_body()
        .map_err(|e| html(400, pages::message("Bad request", &bad_request(e))))?;
    if !csrf_matches(&jwt, field(&form, "csrf")) {
        return Err(forbidden(
            "this form has expired or did not come from this console",
        ));
    }
    Ok(SignedForm {
        caller,
        jwt,
        fields: form,
    })
}

fn form_of_session(authority: &Authority, request: &Request) -> Result<(Caller, String), Response> {
    form_with_session(authority, request).map(|form| (form.caller, form.jwt))
}

/// A form must come from this console's own pages. Browsers say where a
/// request comes from in `Sec-Fetch-Site`; older ones only in `Origin`
/// (which `Referrer-Policy: no-referrer` turns into `null` even for this
/// site's own forms). Another site is refused; a request that says nothing
/// rests on the CSRF token (and the `SameSite=Strict` cookie).
fn same_origin(request: &Request) -> Result<(), Response> {
    if let Some(site) = request.header("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(forbidden("this form was sent from another site")),
        };
    }
    let (Some(origin), Some(host)) = (request.header("origin"), request.header("host")) else {
        return Ok(());
    };
    if origin == "null" {
        return Ok(());
    }
    let own = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host));
    if own {
        Ok(())
    } else {
        Err(forbidden("this form was sent from another site"))
    }
}

/// The CSRF token of a session: derived from its access token, which no
/// other site can read (the cookie is `HttpOnly` and `SameSite=Strict`).
pub(super) fn csrf_token(jwt: &str) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("tokend console 2026 csrf token");
    hasher.update(jwt.as_bytes());
    hasher.finalize().to_hex()[..32].to_string()
}

fn csrf_matches(jwt: &str, presented: &str) -> bool {
    let expected = csrf_token(jwt);
    // Compared as digests, so the time taken says nothing of the token.
    blake3::hash(expected.as_bytes()) == blake3::hash(presented.as_bytes())
}

fn cookie_name(authority: &Authority) -> String {
    if authority.settings().issuer.starts_with("https://") {
        "__Host-tokend-session".into()
    } else {
        "tokend-session".into()
    }
}

fn secure_flag(authority: &Authority) -> &'static str {
    if authority.settings().issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .iter()
        .filter(|(header, _)| header == "cookie")
        .flat_map(|(_, value)| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

fn values(form: &[(String, String)], name: &str) -> Vec<String> {
    form.iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .collect()
}

fn query_text(request: &Request, name: &str) -> Option<String> {
    request
        .query_params()
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn query_number(request: &Request, name: &str) -> Option<u32> {
    request
        .query_params()
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.parse().ok())
}

/// A domain refusal as a page, in the API's words.
fn error_page(error: DomainError) -> Response {
    let (status, title) = match &error {
        DomainError::Invalid(_) => (400, "Not possible"),
        DomainError::Unauthenticated(_)
        | DomainError::InvalidCredentials
        | DomainError::SecondFactorRequired(_)
        | DomainError::InvalidSecondFactor
        | DomainError::Dpop(_) => (401, "Not logged in"),
        DomainError::SecondFactorEnrolmentRequired => (403, "Set up a second factor first"),
        DomainError::Forbidden(_) => (403, "Not allowed"),
        DomainError::NotFound(_) => (404, "Not found"),
        DomainError::Conflict(_) => (409, "Conflict"),
        DomainError::LoginLocked(_) => (429, "Locked"),
        DomainError::RateLimited(_) => (429, "Too many requests"),
        DomainError::Unavailable(_) => (503, "Busy"),
        DomainError::InvalidGrant(_)
        | DomainError::InvalidTarget(_)
        | DomainError::DeviceFlow(_) => (400, "Not possible"),
        DomainError::Internal(_) => (500, "Something went wrong"),
    };
    let message = match error {
        DomainError::Internal(_) => "an internal error; the service log says more".to_string(),
        other => other.to_string(),
    };
    html(status, pages::message(title, &message))
}

fn bad_request(error: BadRequest) -> String {
    match error {
        BadRequest::TooLarge(_) => "the form is too large".into(),
        BadRequest::Malformed(message) => message,
    }
}

fn forbidden(message: &str) -> Response {
    html(403, pages::message("Not allowed", message))
}

fn redirect(to: &str) -> Response {
    with_defences(Response::empty(303).with_header("Location", to.to_string()))
}

fn html(status: u16, markup: maud::Markup) -> Response {
    let mut response = Response::empty(status);
    response.body = markup.into_string().into_bytes();
    with_defences(response.with_header("Content-Type", "text/html; charset=utf-8"))
}

fn asset(content_type: &str, body: &'static str) -> Response {
    let mut response = Response::empty(200);
    response.body = body.as_bytes().to_vec();
    response
        .with_header("Content-Type", content_type.to_string())
        .with_header("Cache-Control", "public, max-age=3600")
        .with_header("X-Content-Type-Options", "nosniff")
}

/// The headers every console page carries: no framing, no inline code, no
/// caching, no referrer.
fn with_defences(response: Response) -> Response {
    response
        .no_store()
        .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("X-Frame-Options", "DENY")
        .with_header("Referrer-Policy", "no-referrer")
}
