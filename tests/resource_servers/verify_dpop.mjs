import { createHash } from 'node:crypto';
import { EmbeddedJWK, calculateJwkThumbprint, jwtVerify } from 'jose';

// verifyAccess: accessTokenVerifier(issuer, audience) above. Answers the
// claims of a DPoP-bound access token whose proof holds for this request;
// throws otherwise (answer 401 with `WWW-Authenticate: DPoP`).
export function dpopVerifier(verifyAccess) {
  // Proofs seen while still acceptable, by key and jti: one process's
  // memory. Several instances of the service share one (Redis...).
  const seen = new Map();

  // url: this request's full URL as the client addressed it.
  return async function verify({ method, url, authorization, dpop }, permission) {
    const [scheme, token] = (authorization ?? '').split(' ');
    // 1. The access token itself, as for a bearer token.
    const { claims } = await verifyAccess(token, permission);
    // 2. A bound token comes with the DPoP scheme and a proof, never as Bearer.
    const jkt = claims.cnf?.jkt;
    if (!jkt || scheme !== 'DPoP' || !dpop) throw new Error('invalid_token');
    // 3. The proof: signed by the public key in its header, fresh.
    const { payload, protectedHeader } = await jwtVerify(dpop, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
      maxTokenAge: '60s',
      clockTolerance: '15s',
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
    });
    // 4. For this request: method, and URL without query and fragment.
    const bare = (u) => { const b = new URL(u); b.search = ''; b.hash = ''; return b.href; };
    if (payload.htm !== method || bare(payload.htu) !== bare(url)) {
      throw new Error('invalid_dpop_proof');
    }
    // 5. For this token: ath is the hash of the token.
    if (payload.ath !== createHash('sha256').update(token).digest('base64url')) {
      throw new Error('invalid_dpop_proof');
    }
    // 6. By the key the token is bound to: its RFC 7638 thumbprint.
    if (await calculateJwkThumbprint(protectedHeader.jwk) !== jkt) {
      throw new Error('invalid_token');
    }
    // 7. Used once: its jti remembered as long as it would be accepted.
    const now = Date.now();
    for (const [id, until] of seen) if (until < now) seen.delete(id);
    const id = `${jkt} ${payload.jti}`;
    if (seen.has(id)) throw new Error('invalid_dpop_proof');
    seen.set(id, (payload.iat + 75) * 1000);
    return claims;
  };
}
