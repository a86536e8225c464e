"""A relying party and a resource server, written with authlib (unmodified),
against a running tokend. Prints one JSON object of what it saw; any
assertion failure exits non-zero.

usage: authlib_client.py BASE_URL ORG API_TOKEN AUDIENCE CLIENT_ID CLIENT_SECRET
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import IDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidClaimError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

base, org, api_token, audience, client_id, client_secret = sys.argv[1:7]
seen = {}

# Discovery (OpenID Connect Discovery 1.0).
metadata = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
assert metadata["issuer"] == base, metadata
keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
# What authlib's OpenID Connect client verifies ID tokens with: the
# algorithms the provider announces.
registry = JWSRegistry(algorithms=metadata["id_token_signing_alg_values_supported"])

# The refresh grant, as a public client (its client_id in the body, which
# binds the API token to it): the API token is the refresh token.
client = OAuth2Session(client_id=audience, token_endpoint_auth_method="none")
token = client.refresh_token(f"{base}/oauth/tenant/{org}/token", refresh_token=api_token)
assert token["token_type"].lower() == "bearer", token
assert "refresh_token" not in token or token["refresh_token"] == api_token, token
assert "openid" in token["scope"].split(), token
seen["scope"] = token["scope"]

# The ID token, checked as authlib's OpenID Connect client checks one: the
# signature against the JWKS, then authlib's IDToken claims (iss, aud, exp,
# iat, azp).
decoded = jwt.decode(token["id_token"], keys, registry=registry)
claims = IDToken(
    decoded.claims,
    decoded.header,
    {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "value": audience},
    },
    {"client_id": audience},
)
claims.validate()
seen["id_token"] = {k: claims[k] for k in ("sub", "preferred_username", "org_name", "groups")}

# Another relying party (another client id) refuses it.
try:
    IDToken(
        decoded.claims,
        decoded.header,
        {"aud": {"essential": True, "value": "another-client"}},
    ).validate()
    raise AssertionError("an ID token for another audience was accepted")
except InvalidClaimError:
    seen["other_audience_refused"] = True

# A tampered ID token fails the signature check.
header, payload, signature = token["id_token"].split(".")
tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
try:
    jwt.decode(tampered, keys, registry=registry)
    raise AssertionError("a tampered ID token verified")
except BadSignatureError:
    seen["tampered_refused"] = True

# Userinfo with the access token.
client.token = token
info = client.get(metadata["userinfo_endpoint"], timeout=10)
assert info.status_code == 200, info.text
seen["userinfo"] = info.json()
assert seen["userinfo"]["sub"] == claims["sub"]

# Introspection, as a resource server with its client credentials.
resource_server = OAuth2Session(client_id=client_id, client_secret=client_secret)
endpoint = metadata["introspection_endpoint"]
described = resource_server.introspect_token(endpoint, token=token["access_token"]).json()
assert described["active"] is True, described
seen["introspected"] = {k: described[k] for k in ("active", "token_type", "username")}

# Revocation (RFC 7009), then the same token is inactive and refused.
revoked = client.revoke_token(metadata["revocation_endpoint"], token=token["access_token"])
assert revoked.status_code == 200, revoked.text
after = resource_server.introspect_token(endpoint, token=token["access_token"]).json()
assert after == {"active": False}, after
refused = requests.get(
    metadata["userinfo_endpoint"],
    headers={"Authorization": f"Bearer {token['access_token']}"},
    timeout=10,
)
assert refused.status_code == 401, refused.text
seen["after_revocation"] = after

print(json.dumps(seen))
