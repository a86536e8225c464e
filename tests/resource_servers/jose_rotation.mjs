// A resource server that lives through a key rotation: one jose key set
// (through verify_access_token.mjs) for the whole run, while access tokens
// are exchanged and verified every second.
//
// usage: node jose_rotation.mjs ISSUER ORG API_TOKEN AUDIENCE PERMISSION
// Prints one JSON line per token: {"n", "kid", "ok": true} or
// {"n", "ok": false, "code", "message"}; then a last line
// {"done": true, "kids": [...], "verified": {kid: count}, "refused": N,
//  "first_still_verifies": bool}. It stops once 3 tokens signed with a key
// other than the first have verified, or after 90 s.
import { accessTokenVerifier } from './verify_access_token.mjs';

const [issuer, org, apiToken, audience, permission] = process.argv.slice(2);
const verify = accessTokenVerifier(issuer, audience);
const deadline = Date.now() + 90_000;
const verified = {};
const kids = [];
let refused = 0;
let first;

async function exchange() {
  const response = await fetch(`${issuer}/oauth/tenant/${org}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: apiToken, resource: audience }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`exchange answered ${response.status}: ${JSON.stringify(body)}`);
  return body.access_token;
}

const rotated = () => kids.slice(1).some((kid) => verified[kid] >= 3);
for (let n = 0; !rotated() && Date.now() < deadline; n++) {
  const token = await exchange();
  first ??= token;
  try {
    const { kid } = await verify(token, permission);
    if (!kids.includes(kid)) kids.push(kid);
    verified[kid] = (verified[kid] ?? 0) + 1;
    console.log(JSON.stringify({ n, kid, ok: true }));
  } catch (error) {
    refused += 1;
    console.log(JSON.stringify({ n, ok: false, code: error.code ?? null, message: error.message }));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

let firstStillVerifies = false;
try {
  await verify(first, permission);
  firstStillVerifies = true;
} catch (error) {
  console.log(JSON.stringify({ first_refused: error.code ?? error.message }));
}
console.log(JSON.stringify({ done: true, kids, verified, refused, first_still_verifies: firstStillVerifies }));
