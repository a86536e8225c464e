//! A Rust resource server's check of tokend's access tokens with the
//! `jsonwebtoken` crate: the code docs/resource-servers.md shows, verbatim
//! from the line after this header (a test compares them).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// What this resource server reads from an access token.
#[derive(Debug, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub username: String,
    pub org_name: String,
    pub perms: Vec<String>,
}

#[derive(Debug)]
pub enum Refused {
    /// Not an access token (`typ` is not `at+jwt`): an ID token, say. 401.
    NotAnAccessToken,
    /// Signed with a key the JWKS in hand lacks: fetch the JWKS again (at
    /// most every 30 s or so) and retry once; still unknown, 401.
    UnknownKey,
    /// Bad signature, `iss`, `aud` or `exp`, or malformed. 401.
    Invalid(jsonwebtoken::errors::Error),
    /// Valid, but the permission is not in `perms`. 403.
    NotGranted,
}

/// `jwks`: tokend's `{issuer}/.well-known/jwks.json`, parsed; `audience`:
/// this resource server's identifier URI, as registered in tokend.
pub fn verify_access_token(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    audience: &str,
    permission: &str,
) -> Result<AccessClaims, Refused> {
    let header = decode_header(token).map_err(Refused::Invalid)?;
    let typ = header.typ.unwrap_or_default().to_ascii_lowercase();
    if typ != "at+jwt" && typ != "application/at+jwt" {
        return Err(Refused::NotAnAccessToken);
    }
    let kid = header.kid.ok_or(Refused::UnknownKey)?;
    let jwk = jwks.find(&kid).ok_or(Refused::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(Refused::Invalid)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = decode::<AccessClaims>(token, &key, &validation)
        .map_err(Refused::Invalid)?
        .claims;
    if !claims.perms.iter().any(|p| p == permission) {
        return Err(Refused::NotGranted);
    }
    Ok(claims)
}
