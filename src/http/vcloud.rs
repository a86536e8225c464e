//! Cloud Director's XML API, as its SDKs (pyvcloud, the Go SDK, Terraform's
//! provider) read it. Written with quick-xml's writer, never by pasting
//! strings: every value is escaped.

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::error::ApiError;
use super::response::Response;
use crate::domain::{Authority, DomainError};

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
                .with_attribute(("xmlns", VERSIONS_NAMESPACE))
                .write_inner_content(|w| {
                    for version in API_VERSIONS {
                        w.create_element("VersionInfo")
                            .with_attribute(("deprecated", "false"))
                            .write_inner_content(|w| {
                                w.create_element("Version")
                                    .write_text_content(BytesText::new(version))?;
                                w.create_element("LoginUrl")
                                    .write_text_content(BytesText::new(&login))?;
                                Ok(())
                            })?;
                    }
                    w.create_element("ProviderLoginUrl")
                        .write_text_content(BytesText::new(&format!("{login}/provider")))?;
                    Ok(())
                })
                .map(drop)
        });
    match written {
        Ok(()) => xml_answer(writer.into_inner(), API_VERSIONS[API_VERSIONS.len() - 1]),
        Err(e) => ApiError::from(DomainError::Internal(format!("XML: {e}"))).into_response(),
    }
}
