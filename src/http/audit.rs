//! `GET /api/audit`: the audit trail, newest first, keyset-paged.

use serde_json::{json, Value};

use super::error::{ApiError, BadRequest};
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::parse_event_time;
use crate::domain::records::EventFilter;
use crate::domain::Authority;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

pub fn list(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let mut filter = EventFilter {
        limit: DEFAULT_LIMIT,
        ..EventFilter::default()
    };
    let mut seen = Vec::new();
    for (key, value) in request.query_params()? {
        if seen.contains(&key) {
            return Err(BadRequest::Malformed(format!("{key} is repeated")).into());
        }
        let bad = |what: &str| BadRequest::Malformed(format!("{key} must be {what}"));
        match key.as_str() {
            "type" => filter.kind = Some(value),
            "actor" => filter.actor_id = Some(value),
            "token" => filter.token_id = Some(value),
            "org" => filter.org_id = Some(authority.org_id_in_reach(&caller, &value)?),
            "since" | "until" => {
                let at = parse_event_time(&value)
                    .ok_or_else(|| bad("an RFC 3339 time after 1970"))?;
                if key == "since" {
                    filter.since_ms = Some(at);
                } else {
                    filter.until_ms = Some(at);
                }
            }
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad(&format!("1-{MAX_LIMIT}")))?
            }
            "cursor" => {
                filter.before = Some(value.parse().map_err(|_| bad("a cursor from next_cursor"))?)
            }
            _ => {
                return Err(BadRequest::Malformed(format!(
                    "unknown query parameter {key:?}; use type, actor, org, token, since, until, limit, cursor"
                ))
                .into())
            }
        }
        seen.push(key);
    }
    let page = authority.events(&caller, filter)?;
    let events: Vec<Value> = page.events.iter().map(|(_, e)| e.to_json()).collect();
    Ok(Response::json(
        200,
        &json!({ "events": events, "next_cursor": page.next_cursor }),
    ))
}
