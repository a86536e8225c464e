// openid-client 5 (unmodified, with its defaults) against tokend: discovery,
// the refresh grant with an API token as a public client, the ID token
// validated by the library (RS256 by default: signature against the JWKS,
// iss, aud, exp, iat), and userinfo.
//
// usage: node openid_client_5.mjs ISSUER CLIENT_ID API_TOKEN
// Prints one JSON object of what it saw.
import { Issuer, TokenSet } from 'openid-client-5';

const [issuerUrl, clientId, apiToken] = process.argv.slice(2);
const seen = {};

const issuer = await Issuer.discover(issuerUrl);
seen.issuer = issuer.issuer;
const client = new issuer.Client({ client_id: clientId, token_endpoint_auth_method: 'none' });
seen.id_token_signed_response_alg = client.id_token_signed_response_alg;

const tokens = await client.refresh(apiToken);
seen.id_token = { alg: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url')).alg, claims: tokens.claims() };
seen.userinfo = await client.userinfo(tokens);

// The check the refresh grant ran, on a copy whose signature is altered.
const [header, payload, signature] = tokens.id_token.split('.');
const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
try {
  await client.validateIdToken(new TokenSet({ ...tokens, id_token: `${header}.${payload}.${flipped}` }), null, 'token', null);
  seen.tampered = { refused: false };
} catch (error) {
  seen.tampered = { refused: true, message: error.message };
}

console.log(JSON.stringify(seen));
