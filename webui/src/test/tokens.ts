/** Unsigned look-alikes of the shop's JWTs: the page only decodes the payload. */
function base64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

export function fakeJwt(payload: Record<string, unknown>): string {
  const header = base64Url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  return `${header}.${base64Url(JSON.stringify(payload))}.c2lnbmF0dXJl`;
}

/** A token for `sub` that expires `inS` seconds from now (negative: expired). */
export function tokenFor(sub: string, inS = 3600): string {
  return fakeJwt({ sub, exp: Math.floor(Date.now() / 1000) + inS });
}
