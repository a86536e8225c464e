//! Cloud Director's `/cloudapi/1.0.0/tokens`: the API tokens a caller may
//! see, listed and revoked as Cloud Director's own automation expects
//! (`values`, `resultTotal`, `pageCount`; ids as `urn:vcloud:token:…`; a
//! FIQL `filter` on `type`, `name` and `owner.name`). The same rights and org
//! confinement as the native `/api/tokens`.

use serde_json::{json, Value};

use super::error::{ApiError, BadRequest};
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{format_time, Authority, PageRequest};

const TOKEN_URN: &str = "urn:vcloud:token:";
/// The only kind of token tokend has: Cloud Director's refresh tokens.
const TOKEN_TYPE: &str = "REFRESH";
const DEFAULT_PAGE_SIZE: u32 = 25;

/// What a `filter` asks for: `field==value` terms joined by `;` (and).
#[derive(Default)]
pub(super) struct TokenFilter {
    pub(super) name: Option<String>,
    pub(super) owner: Option<String>,
    /// A type other than `REFRESH`: nothing matches.
    pub(super) other_type: bool,
}

pub(super) fn parse_filter(filter: &str) -> Result<TokenFilter, BadRequest> {
    let mut parsed = TokenFilter::default();
    for term in filter.split(';') {
        let (field, value) = term.split_once("==").ok_or_else(|| {
            BadRequest::Malformed(format!(
                "filter term {term:?} is not field==value (fields: type, name, owner.name)"
            ))
        })?;
        match field.trim() {
            "type" => parsed.other_type |= !value.eq_ignore_ascii_case(TOKEN_TYPE),
            "name" => parsed.name = Some(value.to_string()),
            "owner.name" => parsed.owner = Some(value.to_string()),
            other => {
                return Err(BadRequest::Malformed(format!(
                    "cannot filter on {other:?} (fields: type, name, owner.name)"
                )))
            }
        }
    }
    Ok(parsed)
}

/// `GET /cloudapi/1.0.0/tokens`.
pub fn list(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let (mut page, mut page_size, mut filter) = (None, None, None);
    for (key, value) in request.query_params()? {
        let slot = match key.as_str() {
            "page" => &mut page,
            "pageSize" => &mut page_size,
            "filter" => &mut filter,
            _ => {
                return Err(
                    BadRequest::Malformed(format!("unknown query parameter {key:?}")).into(),
                )
            }
        };
        if slot.replace(value).is_some() {
            return Err(BadRequest::Malformed(format!("{key} is repeated")).into());
        }
    }
    let number = |value: Option<String>, default: u32, what: &str| match value {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| BadRequest::Malformed(format!("{what} must be a whole number"))),
    };
    let page = PageRequest::new(
        number(page, 1, "page")?,
        number(page_size, DEFAULT_PAGE_SIZE, "pageSize")?,
    )?;
    let filter = filter
        .as_deref()
        .map(parse_filter)
        .transpose()?
        .unwrap_or_default();
    let (tokens, total) = if filter.other_type {
        (Vec::new(), 0)
    } else {
        let listed = authority.tokens_in_reach(
            &caller,
            filter.name.as_deref(),
            filter.owner.as_deref(),
            page,
        )?;
        (listed.tokens, listed.total)
    };
    let values: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": format!("{TOKEN_URN}{}", t.id),
                "name": t.name,
                "owner": { "name": t.owner_name, "id": format!("urn:vcloud:user:{}", t.owner_id) },
                "org": { "name": t.org_name, "id": format!("urn:vcloud:org:{}", t.org_id) },
                "type": TOKEN_TYPE,
                "expiryDate": t.expires_at.map(format_time),
            })
        })
        .collect();
    let page_count = total.div_ceil(u64::from(page.page_size));
    Ok(Response::json(
        200,
        &json!({
            "resultTotal": total,
            "pageCount": page_count,
            "page": page.page,
            "pageSize": page.page_size,
            "associations": null,
            "values": values,
        }),
    ))
}

/// `DELETE /cloudapi/1.0.0/tokens/{id}`: the id as a URN or bare.
pub fn revoke(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    super::tokens::revoke(authority, request, id.strip_prefix(TOKEN_URN).unwrap_or(id))
}
