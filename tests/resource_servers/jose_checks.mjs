// Verifies access tokens with jose (unmodified), as a resource server does,
// through verify_access_token.mjs, the code docs/resource-servers.md shows.
//
// stdin: {"issuer", "audience", "permission", "tokens": {name: jwt},
//         "permissions": {name: permission, where not "permission"},
//         "typ_only": {name: jwt}}
// stdout: one JSON object, per name either {"ok": true, "claims", "kid"} or
// {"ok": false, "code", "claim", "message"}; the "typ_only" tokens' under
// "typ_only", checked for iss and their `typ` header alone (any algorithm).
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { accessTokenVerifier } from './verify_access_token.mjs';

const input = JSON.parse(readFileSync(0, 'utf8'));
const verify = accessTokenVerifier(input.issuer, input.audience);

function refusal(error) {
  return { ok: false, code: error.code ?? null, claim: error.claim ?? null, message: error.message };
}

const seen = {};
for (const [name, token] of Object.entries(input.tokens ?? {})) {
  try {
    const permission = input.permissions?.[name] ?? input.permission;
    seen[name] = { ok: true, ...(await verify(token, permission)) };
  } catch (error) {
    seen[name] = refusal(error);
  }
}

seen.typ_only = {};
const keys = createRemoteJWKSet(new URL(`${input.issuer}/.well-known/jwks.json`));
for (const [name, token] of Object.entries(input.typ_only ?? {})) {
  try {
    await jwtVerify(token, keys, { issuer: input.issuer, typ: 'at+jwt' });
    seen.typ_only[name] = { ok: true };
  } catch (error) {
    seen.typ_only[name] = refusal(error);
  }
}

console.log(JSON.stringify(seen));
