//! A request as the handlers see it, and the parsing of its parts: form and
//! JSON bodies, query strings, bearer tokens and Basic credentials. Every
//! parse failure is a client error; nothing here panics on input.

use std::net::IpAddr;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode;
use serde::de::DeserializeOwned;

use super::error::BadRequest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Past the route's limit (bytes).
    TooLarge(usize),
    Unreadable,
    /// The client did not send the whole body in time.
    TimedOut,
}

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The client's address, as the socket gives it.
    pub peer: IpAddr,
    /// Read eagerly but bounded by `MAX_BODY`; the handler decides how to
    /// report a failure (OAuth endpoints answer in their own dialect).
    pub body: Result<Vec<u8>, BodyError>,
    /// When its head had arrived: what its writes' deadline counts from,
    /// however long it waited for a pool thread.
    pub received: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body(&self) -> Result<&[u8], BadRequest> {
        match &self.body {
            Ok(body) => Ok(body),
            Err(BodyError::TooLarge(limit)) => Err(BadRequest::TooLarge(*limit)),
            Err(BodyError::Unreadable | BodyError::TimedOut) => Err(BadRequest::Malformed(
                "the request body could not be read".into(),
            )),
        }
    }

    /// A JSON object read as `T`. Only objects, here and wherever a struct
    /// is wanted inside: serde would also fill a struct from an array of
    /// its fields in order, a form no description of tokend's API allows.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, BadRequest> {
        let body = self.body()?;
        let first = body.iter().find(|b| !b" \t\n\r".contains(b));
        if first != Some(&b'{') {
            return Err(BadRequest::Malformed(
                "the body must be a JSON object".into(),
            ));
        }
        super::json_objects::from_slice(body).map_err(|e| {
            BadRequest::Malformed(format!("the body is not valid JSON for this request: {e}"))
        })
    }

    /// The parameters of an `application/x-www-form-urlencoded` body. The
    /// content type is checked leniently: scripts send a trailing `/` or a
    /// charset. An empty body needs no content type.
    pub fn form_body(&self) -> Result<Vec<(String, String)>, BadRequest> {
        let body = self.body()?;
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let content_type = self.header("content-type").unwrap_or("");
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches('/');
        if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(BadRequest::Malformed(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        parse_form(body)
    }

    pub fn query_params(&self) -> Result<Vec<(String, String)>, BadRequest> {
        parse_form(self.query.as_bytes())
    }

    /// The access token, from `Authorization: Bearer` or `csp-auth-token`.
    ///
    /// Either header works alone. Sent together they must carry the same
    /// token; anything else (two different tokens, `csp-auth-token` beside
    /// another Authorization scheme, a header repeated) is ambiguous and
    /// refused rather than resolved by a precedence rule a client cannot see.
    /// `Ok(None)` when the request carries no access token.
    pub fn access_token(&self) -> Result<Option<&str>, BadRequest> {
        Ok(self.access_credentials()?.map(|(token, _)| token))
    }

    /// The access token as `access_token` finds it, or from
    /// `Authorization: DPoP` (RFC 9449 §7.1), and whether it came with the
    /// DPoP scheme.
    pub fn access_credentials(&self) -> Result<Option<(&str, bool)>, BadRequest> {
        let ambiguous = |why: &str| BadRequest::Malformed(format!("ambiguous credentials: {why}"));
        let authorization = self.single_header("authorization")?;
        let csp = self.single_header("csp-auth-token")?.map(str::trim);
        let mut dpop_scheme = false;
        let bearer = match authorization {
            None => None,
            Some(value) => match value.trim().split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Some(token.trim())
                }
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") && csp.is_none() => {
                    dpop_scheme = true;
                    Some(token.trim())
                }
                _ if csp.is_some() => {
                    return Err(ambiguous(
                        "csp-auth-token sent beside an Authorization header that is not Bearer",
                    ))
                }
                _ => None,
            },
        };
        let token = match (bearer, csp) {
            (Some(a), Some(b)) if a != b => {
                return Err(ambiguous(
                    "Authorization: Bearer and csp-auth-token carry different tokens",
                ))
            }
            (Some(token), _) | (None, Some(token)) => token,
            (None, None) => return Ok(None),
        };
        Ok(Some((token, dpop_scheme)).filter(|(t, _)| !t.is_empty()))
    }

    /// The value of a header that may appear at most once.
    pub fn single_header(&self, name: &str) -> Result<Option<&str>, BadRequest> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (_, Some(_)) => Err(BadRequest::Malformed(format!(
                "the {name} header must not be repeated"
            ))),
            (value, None) => Ok(value),
        }
    }

    /// `Authorization: Basic` credentials as (user, org, password) from
    /// `user@org:password`. `Ok(None)` when there is no Authorization header.
    pub fn basic_credentials(&self) -> Result<Option<BasicCredentials>, BadRequest> {
        let malformed = || {
            BadRequest::Malformed("Authorization must be Basic base64(user@org:password)".into())
        };
        let Some((login, password)) = self.basic_pair().map_err(|_| malformed())? else {
            return Ok(None);
        };
        let (user, org) = login.rsplit_once('@').ok_or_else(malformed)?;
        if user.is_empty() || org.is_empty() {
            return Err(malformed());
        }
        Ok(Some(BasicCredentials {
            user: user.to_string(),
            org: org.to_string(),
            password: password.to_string(),
        }))
    }

    /// HTTP Basic's two halves, as sent: `(name, password)`.
    pub fn basic_pair(&self) -> Result<Option<(String, String)>, BadRequest> {
        let Some(value) = self.single_header("authorization")? else {
            return Ok(None);
        };
        let malformed =
            || BadRequest::Malformed("Authorization must be Basic base64(name:secret)".into());
        let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(malformed());
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (name, secret) = decoded.split_once(':').ok_or_else(malformed)?;
        Ok(Some((name.to_string(), secret.to_string())))
    }

    /// An OAuth client's Basic credentials (RFC 6749 §2.3.1): client id
    /// and secret are each form-urlencoded before they are joined, so they
    /// are decoded here (a `%2D` is a `-`, a `+` a space).
    pub fn oauth_client_credentials(&self) -> Result<Option<(String, String)>, BadRequest> {
        let Some((id, secret)) = self.basic_pair()? else {
            return Ok(None);
        };
        Ok(Some((
            decode_component(id.as_bytes())?,
            decode_component(secret.as_bytes())?,
        )))
    }
}

/// The query of a list endpoint: `name`, `org` (where allowed), `page`,
/// `pageSize`; each at most once, nothing else.
pub struct ListQuery {
    pub name: Option<String>,
    pub org: Option<String>,
    /// `all=true|false`, where allowed.
    pub all: bool,
    pub page: u32,
    pub page_size: u32,
}

/// Entries a page holds unless `pageSize` says otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 25;

impl Request {
    /// The list query; `org` and `all` only where the endpoint takes them.
    pub fn list_query(
        &self,
        org_allowed: bool,
        all_allowed: bool,
    ) -> Result<ListQuery, BadRequest> {
        let mut name = None;
        let mut org = None;
        let mut all = None;
        let mut page = None;
        let mut page_size = None;
        for (key, value) in self.query_params()? {
            let slot = match key.as_str() {
                "name" => &mut name,
                "org" if org_allowed => &mut org,
                "all" if all_allowed => &mut all,
                "page" => &mut page,
                "pageSize" => &mut page_size,
                _ => {
                    return Err(BadRequest::Malformed(format!(
                        "unknown query parameter {key:?}"
                    )))
                }
            };
            if slot.replace(value).is_some() {
                return Err(BadRequest::Malformed(format!("{key} is repeated")));
            }
        }
        let number = |value: Option<String>, default: u32, what: &str| match value {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| BadRequest::Malformed(format!("{what} must be a positive number"))),
        };
        let all = match all.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(BadRequest::Malformed("all is true or false".into())),
        };
        Ok(ListQuery {
            name,
            org,
            all,
            page: number(page, 1, "page")?,
            page_size: number(page_size, DEFAULT_PAGE_SIZE, "pageSize")?,
        })
    }
}

pub struct BasicCredentials {
    pub user: String,
    pub org: String,
    pub password: String,
}

/// Decodes `a=1&b=2` strictly: percent-escapes must decode to UTF-8.
pub fn parse_form(input: &[u8]) -> Result<Vec<(String, String)>, BadRequest> {
    let mut params = Vec::new();
    for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        params.push((decode_component(name)?, decode_component(value)?));
    }
    Ok(params)
}

/// One name or value of a form or query string, decoded. A NUL (`%00`) is
/// refused: no parameter of the API holds one, and one backend would
/// match nothing with it where another refuses to store it.
fn decode_component(raw: &[u8]) -> Result<String, BadRequest> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded = percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| BadRequest::Malformed("the form data is not valid UTF-8".into()))?;
    if decoded.contains('\0') {
        return Err(BadRequest::Malformed(
            "the form data holds a NUL character (%00)".into(),
        ));
    }
    Ok(decoded)
}

/// Percent-decodes one path segment (an org name or an id); None when it
/// is not UTF-8 or holds a NUL, which no name or id does.
pub fn decode_path_segment(raw: &str) -> Option<String> {
    percent_decode(raw.as_bytes())
        .decode_utf8()
        .ok()
        .filter(|s| !s.contains('\0'))
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_in_a_form_or_a_path_segment_is_refused() {
        for form in [&b"a=b%00c"[..], b"a%00=b", b"x=1&filter=name%3D%00"] {
            assert!(parse_form(form).is_err(), "{form:?}");
        }
        assert_eq!(decode_path_segment("ab%00"), None);
        assert_eq!(decode_path_segment("a%20b").as_deref(), Some("a b"));
    }

    #[test]
    fn forms_decode_plus_and_percent_and_refuse_bad_utf8() {
        let params = parse_form(b"a=b+c&refresh_token=x%2By&flag").unwrap();
        assert_eq!(
            params,
            vec![
                ("a".into(), "b c".into()),
                ("refresh_token".into(), "x+y".into()),
                ("flag".into(), String::new()),
            ]
        );
        assert!(parse_form(b"a=%FF").is_err());
        assert!(parse_form(&[b'a', b'=', 0xff]).is_err());
    }
}
