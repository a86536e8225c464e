import { createRemoteJWKSet, jwtVerify } from 'jose';

// issuer: tokend's issuer URL; audience: this resource server's identifier
// URI, as registered in tokend (`tokend service set-identifier`).
export function accessTokenVerifier(issuer, audience) {
  // One key set for the whole process: it fetches tokend's keys once, and
  // again when a token names a key id it does not know (at most every 30 s).
  const keys = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));

  return async function verify(token, permission) {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      algorithms: ['ES256'],
      typ: 'at+jwt', // an access token, not an ID token
      issuer,
      audience,
      requiredClaims: ['exp', 'sub'],
    });
    if (!Array.isArray(payload.perms) || !payload.perms.includes(permission)) {
      throw new Error(`${permission} is not granted`); // answer 403
    }
    return { claims: payload, kid: protectedHeader.kid };
  };
}
