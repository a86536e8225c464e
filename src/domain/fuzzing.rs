//! The access token checker, reachable from outside the crate for the
//! property tests (`tests/properties.rs`) and the cargo-fuzz targets
//! (`fuzz/`): a key ring of its own (an ES256 and an RS256 key, as a
//! database holds them) that signs claims of the harness's choosing and
//! checks tokens exactly as `Authority::authenticate` does before it asks
//! the store. Not an API: nothing but those harnesses calls it. Also the
//! networks a token may be bound to: a CIDR's canonical form, and whether
//! a binding admits a client, as the exchange decides it.

use std::net::IpAddr;

use serde_json::{json, Value};

use super::ambient::OsRandom;
use super::tokens::networks::{BoundNetworks, Cidr};
use super::tokens::signing::{KeyRing, ES256, RS256};

/// The issuer the checker's tokens name and that it expects.
pub const ISSUER: &str = "https://tokend.test";

/// A key ring with one key of each algorithm, in force from time 0.
pub struct TokenChecker {
    ring: KeyRing,
}

impl TokenChecker {
    pub fn new() -> Result<TokenChecker, String> {
        let records = [
            KeyRing::generate_ec_key(&OsRandom, 0, 0).map_err(|e| e.to_string())?,
            KeyRing::generate_rsa_key(&OsRandom, 0, 0).map_err(|e| e.to_string())?,
        ];
        let ring = KeyRing::from_records(1, &records, 1800).map_err(|e| e.to_string())?;
        Ok(TokenChecker { ring })
    }

    /// Claims as tokend writes them into an access token issued at `now`.
    pub fn access_claims(now: i64) -> Value {
        json!({
            "iss": ISSUER,
            "sub": "7d1b2f0e-0000-4000-8000-000000000001",
            "aud": ISSUER,
            "iat": now,
            "exp": now + 1800,
            "jti": "6a0e1d7c-0000-4000-8000-000000000002",
            "org_id": "5c4b3a29-0000-4000-8000-000000000003",
            "org_name": "System",
            "username": "administrator",
            "roles": ["System Administrator"],
            "perms": ["tokend:token.manage"],
            "sid": "4f3e2d1c-0000-4000-8000-000000000004",
        })
    }

    /// An access token signed by the ring's ES256 key, as tokend issues one.
    pub fn access_token(&self, claims: &Value, now: i64) -> Result<String, String> {
        self.sign(claims, ES256, "at+jwt", now)
    }

    /// `claims` signed by the ring's `algorithm` key (`ES256` or `RS256`)
    /// with header type `typ`.
    pub fn sign(
        &self,
        claims: &Value,
        algorithm: &str,
        typ: &str,
        now: i64,
    ) -> Result<String, String> {
        let algorithm = if algorithm == RS256 { RS256 } else { ES256 };
        self.ring
            .sign(claims, algorithm, typ, now)
            .map_err(|e| e.to_string())
    }

    /// Checks `jwt` as an access token of `ISSUER` at `now`: its claims,
    /// or why it was refused.
    pub fn verify(&self, jwt: &str, now: i64) -> Result<Value, String> {
        let claims = self
            .ring
            .verify_access_token(jwt, ISSUER, now)
            .map_err(|e| e.to_string())?;
        serde_json::to_value(claims).map_err(|e| e.to_string())
    }
}

/// The canonical form of one `bound_cidrs` entry, or why it is refused.
pub fn canonical_cidr(text: &str) -> Result<String, String> {
    Cidr::parse(text).map(|cidr| cidr.to_string())
}

/// Whether a token bound to `cidrs` may be exchanged from `client`, or why
/// the binding is refused.
pub fn binding_admits(cidrs: &[String], client: IpAddr) -> Result<bool, String> {
    BoundNetworks::parse(cidrs)
        .map(|networks| networks.admits(client))
        .map_err(|e| e.to_string())
}

/// A DPoP proof checked for form and signature as the exchanges and
/// `authenticate` check it first (RFC 9449 §4.3): the RFC 7638 thumbprint
/// of its key, or why it is refused.
pub fn dpop_proof_thumbprint(proof: &str) -> Result<String, String> {
    super::tokens::dpop::parse_proof(proof)
        .map(|claims| claims.jkt)
        .map_err(|refusal| refusal.description().to_string())
}
