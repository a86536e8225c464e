//! JSON shapes every handler shares, so that handlers do not import each
//! other: the page of a listing.

use serde_json::{json, Value};

use super::response::Response;
use crate::domain::PageRequest;

/// A page of a listing, as every list endpoint answers it.
pub fn page_json(key: &str, entries: Vec<Value>, page: PageRequest, total: u64) -> Response {
    let mut body = json!({ "page": page.page, "pageSize": page.page_size, "total": total });
    body[key] = Value::Array(entries);
    Response::json(200, &body)
}
