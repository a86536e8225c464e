// Makes DPoP proofs (RFC 9449 §4) with jose, for the tests of tokend's
// DPoP support: one JSON object on stdin, one on stdout.
//   key      a private JWK from an earlier run; absent: a new key of alg
//   alg      ES256 (default), ES384, RS256, PS256 or EdDSA
//   htm, htu, iat (default now), jti (default random), nonce
//   token    the access token the proof comes with: its ath
//   ath      an ath to send instead
//   form     "none" (alg none, unsigned), "hs256" (a shared secret), or
//            "private_jwk" (the private key in the header's jwk)
// Prints {proof, key, jkt}: jkt is jose's RFC 7638 thumbprint of the key.
import { createHash, randomUUID } from 'node:crypto';
import {
  SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK,
} from 'jose';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));
const alg = input.alg ?? 'ES256';
let privateJwk = input.key;
if (!privateJwk) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  privateJwk = await exportJWK(privateKey);
}
const { d, p, q, dp, dq, qi, ...publicJwk } = privateJwk;
const claims = {
  htm: input.htm,
  htu: input.htu,
  iat: input.iat ?? Math.floor(Date.now() / 1000),
  jti: input.jti ?? randomUUID(),
};
if (input.nonce) claims.nonce = input.nonce;
if (input.token) claims.ath = createHash('sha256').update(input.token).digest('base64url');
if (input.ath) claims.ath = input.ath;

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
let proof;
if (input.form === 'none') {
  proof = `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: publicJwk })}.${b64(claims)}.`;
} else if (input.form === 'hs256') {
  const secret = new TextEncoder().encode('a shared secret of thirty-two bytes!');
  proof = await new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } })
    .sign(secret);
} else {
  const jwk = input.form === 'private_jwk' ? privateJwk : publicJwk;
  proof = await new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk })
    .sign(await importJWK(privateJwk, alg));
}
console.log(JSON.stringify({ proof, key: privateJwk, jkt: await calculateJwkThumbprint(publicJwk) }));
