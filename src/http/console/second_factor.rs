//! The second factor in the console: the login's second step, and the
//! page where one enrols (a QR code rendered here as SVG), sees the
//! recovery codes once, and turns it off. The same domain calls as
//! `/api/users/me/2fa`; a session that may only enrol lands here.

use qrcode::render::svg;
use qrcode::QrCode;

use super::{
    bad_request, error_page, field, form_with_session_for, html, logged_in, next_page, pages,
    same_origin, session_caller, Admit, Refusal, SignedForm,
};
use crate::domain::{Authority, Caller, DomainError};
use crate::http::request::Request;
use crate::http::response::Response;
use pages::Page;

/// `POST /console/login/code`: the second step of a login whose password
/// was right.
pub fn login_code(authority: &mut Authority, request: &Request) -> Response {
    if let Err(refused) = same_origin(request) {
        return refused;
    }
    let form = match request.form_body() {
        Ok(form) => form,
        Err(e) => return html(400, pages::login(Some(&bad_request(e)), "", "", "")),
    };
    let handle = field(&form, "login");
    let code = field(&form, "code");
    let next = next_page(Some(field(&form, "next")));
    match authority.continue_login(handle, code, request.peer) {
        Ok(session) => logged_in(authority, &session, &next),
        Err(DomainError::InvalidSecondFactor) => html(
            401,
            pages::login_code(
                Some("that code is not right, or was used already"),
                handle,
                &next,
            ),
        ),
        Err(DomainError::LoginLocked(seconds)) => html(
            429,
            pages::login(
                Some(&format!(
                    "too many failed logins: try again in {seconds} seconds"
                )),
                "",
                "",
                &next,
            ),
        )
        .with_header("Retry-After", seconds.to_string()),
        Err(DomainError::Unauthenticated(message)) => {
            html(401, pages::login(Some(&message), "", "", &next))
        }
        Err(e) => error_page(e),
    }
}

/// `GET /console/2fa`.
pub fn second_factor_page(authority: &mut Authority, request: &Request) -> Response {
    let (caller, jwt) = match session_caller(authority, request, Admit::EnrolOnly) {
        Ok(found) => found,
        Err(Refusal::NoSession | Refusal::EnrolFirst) => {
            return super::redirect("/console/login?next=%2Fconsole%2F2fa")
        }
    };
    page(authority, &caller, &jwt, None, 200)
}

/// `POST /console/2fa`: begins an enrolment, then shows it.
pub fn begin_second_factor(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm { caller, jwt, .. } =
        or_answer!(form_with_session_for(authority, request, Admit::EnrolOnly));
    match authority.begin_second_factor(&caller) {
        Ok(_) => page(authority, &caller, &jwt, None, 200),
        Err(DomainError::Conflict(message)) => page(authority, &caller, &jwt, Some(&message), 409),
        Err(e) => error_page(e),
    }
}

/// `POST /console/2fa/confirm`: enrols with a code; the recovery codes.
pub fn confirm_second_factor(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm {
        caller,
        jwt,
        fields,
    } = or_answer!(form_with_session_for(authority, request, Admit::EnrolOnly));
    match authority.confirm_second_factor(&caller, field(&fields, "code")) {
        Ok(codes) => {
            // The session may do everything now: the full navigation.
            let page = Page::new(&caller, &jwt);
            html(200, pages::recovery_codes(&page, &codes))
        }
        Err(DomainError::Invalid(message) | DomainError::Conflict(message)) => {
            page(authority, &caller, &jwt, Some(&message), 400)
        }
        Err(e) => error_page(e),
    }
}

/// `POST /console/2fa/disable`: turns it off with a current code.
pub fn disable_second_factor(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm {
        caller,
        jwt,
        fields,
    } = or_answer!(form_with_session_for(authority, request, Admit::Full));
    match authority.disable_second_factor(&caller, field(&fields, "code")) {
        Ok(()) => super::redirect("/console/2fa"),
        Err(DomainError::InvalidSecondFactor) => page(
            authority,
            &caller,
            &jwt,
            Some("that code is not right, or was used already"),
            401,
        ),
        Err(e) => error_page(e),
    }
}

fn page(
    authority: &Authority,
    caller: &Caller,
    jwt: &str,
    error: Option<&str>,
    status: u16,
) -> Response {
    let found = authority.second_factor_status(caller).and_then(|status| {
        let pending = authority.pending_enrolment(caller)?;
        Ok((status, pending))
    });
    let (status_now, pending) = match found {
        Ok(found) => found,
        Err(e) => return error_page(e),
    };
    // Enrol-only until enrolled: the session of a user the policy covers.
    let enrol_only = status_now.required && !status_now.enrolled;
    let page = Page::enrolling(caller, jwt, enrol_only);
    let qr = pending.as_ref().map(|enrolment| qr_svg(&enrolment.uri));
    let shown = match (&pending, &qr) {
        (Some(enrolment), Some(Some(svg))) => Some((enrolment, svg.as_str())),
        _ => None,
    };
    html(
        status,
        pages::second_factor(&page, &status_now, shown, error),
    )
}

/// The QR code of `uri` as an inline SVG element (without the XML
/// declaration, which has no place inside HTML).
fn qr_svg(uri: &str) -> Option<String> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = image.find("<svg")?;
    Some(image[start..].to_string())
}
