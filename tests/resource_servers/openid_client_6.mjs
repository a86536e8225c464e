// openid-client 6 (unmodified) against tokend: discovery, the refresh grant
// with an API token (a public client), the ID token as the library checks
// it, userinfo; then, as a resource server with its introspection
// credentials, introspection and revocation.
//
// usage: node openid_client_6.mjs ISSUER CLIENT_ID API_TOKEN RESOURCE RS_CLIENT_ID RS_CLIENT_SECRET
// Prints one JSON object of what it saw. Library errors are caught where a
// refusal is expected and reported as {"error", "code", "status"}.
import * as client from 'openid-client';

const [issuer, clientId, apiToken, resource, rsClientId, rsClientSecret] = process.argv.slice(2);
const seen = {};

function refusal(error) {
  return { error: error.error ?? error.name, code: error.code ?? null, status: error.status ?? null, message: error.message };
}

// The test's tokend speaks plain HTTP; over https no option is needed.
const discoveryOptions = { execute: [client.allowInsecureRequests] };

// A public client: the API token is the refresh token; no client secret.
const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), {
  execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
});
const metadata = config.serverMetadata();
seen.metadata = {
  token_endpoint: metadata.token_endpoint,
  id_token_signing_alg_values_supported: metadata.id_token_signing_alg_values_supported,
  token_endpoint_auth_methods_supported: metadata.token_endpoint_auth_methods_supported,
};

// The refresh grant, twice; the library validates each ID token (signature
// against the JWKS, iss, aud = the client id, exp, iat).
const first = await client.refreshTokenGrant(config, apiToken);
const second = await client.refreshTokenGrant(config, apiToken, { resource });
const idTokenHeader = JSON.parse(Buffer.from(first.id_token.split('.')[0], 'base64url'));
seen.id_token = { alg: idTokenHeader.alg, claims: first.claims() };
seen.second_id_token = second.claims();
const accessToken = second.access_token;
seen.access_token_aud = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url')).aud;

// Userinfo with the access token; the library checks `sub` against the ID token's.
seen.userinfo = await client.fetchUserInfo(config, first.access_token, first.claims().sub);

// Another client id may not use the same API token.
const other = await client.discovery(new URL(issuer), `${clientId}-other`, undefined, client.None(), discoveryOptions);
try {
  await client.refreshTokenGrant(other, apiToken);
  seen.other_client = { error: null };
} catch (error) {
  seen.other_client = refusal(error);
}

// guide:introspection:begin
// A resource server with its introspection credentials (client_secret_basic);
// `resource` is its identifier URI.
const resourceServer = await client.discovery(
  new URL(issuer),
  rsClientId,
  rsClientSecret,
  client.ClientSecretBasic(rsClientSecret),
  discoveryOptions,
);
const described = await client.tokenIntrospection(resourceServer, accessToken);
if (!described.active || ![described.aud].flat().includes(resource)) {
  throw new Error('not an access token for this service'); // answer 401
}
if (!described.scope.split(' ').includes('vmc:sddc.read')) {
  throw new Error('vmc:sddc.read is not granted'); // answer 403
}
// guide:introspection:end
seen.introspected = described;
seen.api_token_introspected = await client.tokenIntrospection(resourceServer, apiToken);

// Revocation (RFC 7009) as the public client; the token is then inactive.
await client.tokenRevocation(config, accessToken);
seen.after_revocation = await client.tokenIntrospection(resourceServer, accessToken);

console.log(JSON.stringify(seen));
