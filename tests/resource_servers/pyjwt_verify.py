"""Verifies access tokens with PyJWT (unmodified), as a resource server does;
the part between the guide markers is what docs/resource-servers.md shows.

stdin: {"issuer", "audience", "permission", "tokens": {name: jwt},
        "permissions": {name: permission, where not "permission"}}
stdout: one JSON object, per name either {"ok": true, "header", "claims"} or
{"ok": false, "error": the exception's class, "message"}.
"""

import json
import sys

# guide:begin
import jwt  # PyJWT 2, with cryptography for ES256


def access_token_verifier(issuer, audience):
    """verify(token, permission) -> the token's claims, or raises
    jwt.InvalidTokenError (answer 401) or PermissionError (answer 403)."""
    # One key set for the process: fetched once, and again when a token
    # names a key id it does not know.
    keys = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json")

    def verify(token, permission):
        typ = jwt.get_unverified_header(token).get("typ", "")
        if typ.lower() not in ("at+jwt", "application/at+jwt"):
            raise jwt.InvalidTokenError(f"not an access token (typ {typ!r})")
        key = keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["ES256"],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        if permission not in claims.get("perms", []):
            raise PermissionError(f"{permission} is not granted")
        return claims

    return verify
# guide:end


def main():
    given = json.load(sys.stdin)
    verify = access_token_verifier(given["issuer"], given["audience"])
    seen = {}
    for name, token in given["tokens"].items():
        try:
            permission = given.get("permissions", {}).get(name, given["permission"])
            claims = verify(token, permission)
            seen[name] = {"ok": True, "header": jwt.get_unverified_header(token), "claims": claims}
        except (jwt.PyJWTError, PermissionError) as error:
            seen[name] = {"ok": False, "error": type(error).__name__, "message": str(error)}
    print(json.dumps(seen))


main()
