// The guide's DPoP verifier (verify_dpop.mjs) over the guide's access
// token verifier, on a list of requests in turn: stdin
// {issuer, audience, permission, requests: [{method, url, authorization,
// dpop}]}; prints {results: [{ok, sub} | {ok: false, error}]}.
import { accessTokenVerifier } from './verify_access_token.mjs';
import { dpopVerifier } from './verify_dpop.mjs';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));
const verify = dpopVerifier(accessTokenVerifier(input.issuer, input.audience));
const results = [];
for (const request of input.requests) {
  try {
    const claims = await verify(request, input.permission);
    results.push({ ok: true, sub: claims.sub });
  } catch (e) {
    results.push({ ok: false, error: e.code ?? e.message });
  }
}
console.log(JSON.stringify({ results }));
