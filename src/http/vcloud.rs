//! Cloud Director's XML API, as its SDKs (pyvcloud, the Go SDK, Terraform's
//! provider) read it. Written with quick-xml's writer, never by pasting
//! strings: every value is escaped, and so that an XML parser reads back
//! the value written (`attribute`, `text`).

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::Writer;

use super::error::ApiError;
use super::request::Request;
use super::response::Response;
use crate::domain::{Authority, Caller, DomainError, Org};

/// The API versions tokend speaks, oldest first.
pub const API_VERSIONS: [&str; 7] = ["33.0", "34.0", "35.0", "36.0", "36.1", "36.2", "36.3"];
const VERSIONS_NAMESPACE: &str = "http://www.vmware.com/vcloud/versions";

/// An XML answer in Cloud Director's media type, at `version`.
fn xml_answer(body: Vec<u8>, version: &str) -> Response {
    let mut response = Response::empty(200).with_header(
        "Content-Type",
        format!("application/*+xml;version={version}"),
    );
    response.body = body;
    response
}

/// `value` escaped for XML: markup characters as entities; tab, line
/// feed and carriage return as character references where `references`
/// holds them (an attribute value is normalised by the parser, which would
/// read them as spaces; text keeps all but a carriage return); a character
/// XML 1.0 cannot hold at all (most C0 controls, unpaired surrogates'
/// places, U+FFFE and U+FFFF) as U+FFFD.
fn escaped(value: &str, references: &[char]) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' if references.contains(&c) => {
                out.push_str(&format!("&#{};", u32::from(c)))
            }
            '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' => out.push(c),
            '\u{10000}'..='\u{10FFFF}' => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// An attribute whose value an XML parser reads back as `value`.
fn attribute<'a>(name: &'a str, value: &str) -> Attribute<'a> {
    Attribute {
        key: QName(name.as_bytes()),
        value: Cow::Owned(escaped(value, &['\t', '\n', '\r']).into_bytes()),
    }
}

/// Element text an XML parser reads back as `value`.
fn text(value: &str) -> BytesText<'static> {
    BytesText::from_escaped(escaped(value, &['\r']))
}

/// `GET /api/versions` (no authentication): the versions tokend speaks,
/// each with its login URL, and the provider's login URL.
pub fn versions(authority: &Authority) -> Response {
    let issuer = &authority.settings().issuer;
    let login = format!("{issuer}/cloudapi/1.0.0/sessions");
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let written = writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| {
            writer
                .create_element("SupportedVersions")
                .with_attribute(attribute("xmlns", VERSIONS_NAMESPACE))
                .write_inner_content(|w| {
                    for version in API_VERSIONS {
                        w.create_element("VersionInfo")
                            .with_attribute(attribute("deprecated", "false"))
                            .write_inner_content(|w| {
                                w.create_element("Version")
                                    .write_text_content(text(version))?;
                                w.create_element("LoginUrl")
                                    .write_text_content(text(&login))?;
                                Ok(())
                            })?;
                    }
                    w.create_element("ProviderLoginUrl")
                        .write_text_content(text(&format!("{login}/provider")))?;
                    Ok(())
                })
                .map(drop)
        });
    match written {
        Ok(()) => xml_answer(writer.into_inner(), latest_version()),
        Err(e) => ApiError::from(DomainError::Internal(format!("XML: {e}"))).into_response(),
    }
}

/// The namespace of Cloud Director's API documents.
const VCLOUD_NAMESPACE: &str = "http://www.vmware.com/vcloud/v1.5";
const SESSION_TYPE: &str = "application/vnd.vmware.vcloud.session+xml";
const ORG_LIST_TYPE: &str = "application/vnd.vmware.vcloud.orgList+xml";
const ORG_TYPE: &str = "application/vnd.vmware.vcloud.org+xml";
const ERROR_TYPE: &str = "application/vnd.vmware.vcloud.error+xml";

/// The newest version tokend speaks: what an XML answer without a
/// requested version is written at.
pub fn latest_version() -> &'static str {
    API_VERSIONS[API_VERSIONS.len() - 1]
}

/// The form a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Json,
    /// Cloud Director's XML, at one of `API_VERSIONS`.
    Xml {
        version: &'static str,
    },
}

/// Reads `Accept` as Cloud Director's clients write it
/// (`application/*+xml;version=36.0`): the most preferred range that names
/// JSON or XML decides; anything else, or no `Accept`, means JSON. An XML
/// range at a version tokend does not speak is 406.
pub fn negotiate(request: &Request) -> Result<Representation, ApiError> {
    let Some(accept) = request.header("accept") else {
        return Ok(Representation::Json);
    };
    let mut best: Option<(f32, Option<&str>)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let (mut quality, mut version) = (1.0_f32, None);
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => {
                    quality = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|q: &f32| q.is_finite())
                        .unwrap_or(0.0)
                }
                "version" => version = Some(value.trim().trim_matches('"')),
                _ => {}
            }
        }
        let is_xml = media == "text/xml"
            || media
                .strip_prefix("application/")
                .is_some_and(|sub| sub == "xml" || sub.ends_with("+xml"));
        let is_json = matches!(media.as_str(), "application/json" | "application/*" | "*/*");
        if quality <= 0.0 || !(is_xml || is_json) {
            continue;
        }
        if best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, is_xml.then_some(version.unwrap_or(""))));
        }
    }
    match best {
        None | Some((_, None)) => Ok(Representation::Json),
        Some((_, Some(""))) => Ok(Representation::Xml {
            version: latest_version(),
        }),
        Some((_, Some(asked))) => API_VERSIONS
            .iter()
            .find(|v| **v == asked)
            .map(|version| Representation::Xml { version })
            .ok_or_else(|| {
                ApiError::not_acceptable(format!(
                    "API version {asked:?} is not supported; tokend speaks {} to {}",
                    API_VERSIONS[0],
                    latest_version()
                ))
            }),
    }
}

/// What goes inside a document's root element.
type Content<'a> = &'a mut dyn FnMut(&mut Writer<Vec<u8>>) -> std::io::Result<()>;

/// A document in Cloud Director's namespace: the declaration, then the root
/// element `name` with its attributes and whatever `inner` writes (an
/// empty element without it).
fn document(
    name: &str,
    attributes: &[(&str, &str)],
    inner: Option<Content<'_>>,
) -> Result<Vec<u8>, DomainError> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| {
            let root = writer
                .create_element(name)
                .with_attribute(attribute("xmlns", VCLOUD_NAMESPACE))
                .with_attributes(attributes.iter().map(|(k, v)| attribute(k, v)));
            match inner {
                Some(inner) => root.write_inner_content(|w| inner(w)).map(drop),
                None => root.write_empty().map(drop),
            }
        })
        .map_err(|e| DomainError::Internal(format!("XML: {e}")))?;
    Ok(writer.into_inner())
}

/// A `Link` element, as the SDKs follow them by `rel` and `type`.
fn link(
    w: &mut Writer<Vec<u8>>,
    rel: &str,
    href: &str,
    media_type: Option<&str>,
    name: Option<&str>,
) -> std::io::Result<()> {
    let mut element = w
        .create_element("Link")
        .with_attribute(attribute("rel", rel))
        .with_attribute(attribute("href", href));
    if let Some(media_type) = media_type {
        element = element.with_attribute(attribute("type", media_type));
    }
    if let Some(name) = name {
        element = element.with_attribute(attribute("name", name));
    }
    element.write_empty().map(drop)
}

/// An answer of media type `media_type` at `version`.
fn typed_answer(status: u16, body: Vec<u8>, media_type: &str, version: &str) -> Response {
    let mut response = Response::empty(status)
        .with_header("Content-Type", format!("{media_type};version={version}"));
    response.body = body;
    response
}

fn org_href(issuer: &str, org: &Org) -> String {
    format!("{issuer}/api/org/{}", org.id)
}

/// `GET /api/session` as XML: who the caller is, with the links the SDKs
/// follow to the org list and the logged-in org.
pub fn session(issuer: &str, caller: &Caller, version: &str) -> Result<Response, DomainError> {
    let account = &caller.account;
    let user_id = format!("urn:vcloud:user:{}", account.user_id);
    let roles = caller.roles.join(",");
    // Cloud Director names the site after the org; tokend is one site,
    // known by its issuer.
    let location = format!("{}@{issuer}", account.org.name);
    let href = format!("{issuer}/api/session");
    let body = document(
        "Session",
        &[
            ("user", &account.user_name),
            ("org", &account.org.name),
            ("userId", &user_id),
            ("roles", &roles),
            ("locationId", &location),
            ("href", &href),
            ("type", SESSION_TYPE),
        ],
        Some(&mut |w| {
            link(
                w,
                "down",
                &format!("{issuer}/api/org"),
                Some(ORG_LIST_TYPE),
                None,
            )?;
            link(w, "remove", &href, None, None)?;
            link(
                w,
                "down",
                &org_href(issuer, &account.org),
                Some(ORG_TYPE),
                Some(&account.org.name),
            )
        }),
    )?;
    Ok(typed_answer(200, body, SESSION_TYPE, version))
}

/// `GET /api/org` as XML: an `OrgList` of references.
pub fn org_list(issuer: &str, orgs: &[Org], version: &str) -> Result<Response, DomainError> {
    let href = format!("{issuer}/api/org");
    let mut refs = |w: &mut Writer<Vec<u8>>| {
        for org in orgs {
            w.create_element("Org")
                .with_attribute(attribute("href", &org_href(issuer, org)))
                .with_attribute(attribute("name", org.name.as_str()))
                .with_attribute(attribute("type", ORG_TYPE))
                .write_empty()?;
        }
        Ok(())
    };
    let body = document(
        "OrgList",
        &[("href", &href), ("type", ORG_LIST_TYPE)],
        Some(&mut refs),
    )?;
    Ok(typed_answer(200, body, ORG_LIST_TYPE, version))
}

/// `GET /api/org/{id}` as XML: the `Org` itself.
pub fn org(issuer: &str, org: &Org, version: &str) -> Result<Response, DomainError> {
    let id = format!("urn:vcloud:org:{}", org.id);
    let href = org_href(issuer, org);
    let body = document(
        "Org",
        &[
            ("name", &org.name),
            ("id", &id),
            ("href", &href),
            ("type", ORG_TYPE),
        ],
        Some(&mut |w| {
            link(
                w,
                "up",
                &format!("{issuer}/api/org"),
                Some(ORG_LIST_TYPE),
                None,
            )?;
            w.create_element("Description").write_empty()?;
            w.create_element("FullName")
                .write_text_content(text(&org.name))?;
            w.create_element("IsEnabled")
                .write_text_content(text("true"))?;
            Ok(())
        }),
    )?;
    Ok(typed_answer(200, body, ORG_TYPE, version))
}

impl ApiError {
    /// The error as Cloud Director writes it, for a client that asked for
    /// its XML at `version`.
    pub fn into_xml_response(self, version: &str) -> Response {
        let mut response = error(self.status, self.code, &self.message, version);
        response.headers.extend(self.headers);
        response
    }
}

/// An error as Cloud Director writes it: an `Error` element whose
/// `majorErrorCode` is the HTTP status.
pub fn error(status: u16, code: &str, message: &str, version: &str) -> Response {
    let major = status.to_string();
    let minor = code.to_ascii_uppercase();
    let body = document(
        "Error",
        &[
            ("majorErrorCode", &major),
            ("minorErrorCode", &minor),
            ("message", message),
        ],
        None,
    );
    match body {
        Ok(body) => typed_answer(status, body, ERROR_TYPE, version),
        // Writing into a Vec cannot fail; should it, the status still holds.
        Err(_) => Response::empty(status),
    }
}
