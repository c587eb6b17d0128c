/**
 * The shop's sign-in (jwt mode): the token its login hands this page, as a `#token=`
 * link or a cookie, and what the page shows of it. The payload is decoded for display
 * only (who is signed in, until when); the server verifies the signature.
 */
import { rememberShopperToken, rememberedShopperToken } from './storage';

const HASH_KEY = 'token';

/** The link's token when sessionStorage is disabled: it then lasts as long as the page. */
let unstoredToken: string | null = null;

/**
 * Take a `#token=<JWT>` from the address once, at load: keep it for this tab and
 * remove it from the address bar, so it is neither bookmarked nor shared with the link.
 * Other hash parameters stay.
 */
export function captureTokenFromAddress(): void {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  if (!params.has(HASH_KEY)) return;
  const token = params.get(HASH_KEY)?.trim();
  params.delete(HASH_KEY);
  const rest = params.toString();
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', `${pathname}${search}${rest ? `#${rest}` : ''}`);
  if (token && !rememberShopperToken(token)) unstoredToken = token;
}

/** The value of the cookie `name`, or null. */
export function readCookie(name: string): string | null {
  for (const pair of document.cookie.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== name) continue;
    const value = pair.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(value) || null;
    } catch {
      return value || null;
    }
  }
  return null;
}

/** The tokens on offer, best first: the link's (this tab), then the shop's cookie. */
export function offeredTokens(cookieName: string | null): string[] {
  const stored = rememberedShopperToken() ?? unstoredToken;
  const cookie = cookieName ? readCookie(cookieName) : null;
  return [stored, cookie].filter((token): token is string => Boolean(token));
}

/** What the page reads of a token: its subject and when it expires (ms since the epoch). */
export interface TokenClaims {
  sub: string;
  expiresAtMs: number;
}

/** The payload's `sub` and `exp`, or null when the token is not a JWT that has them. */
export function tokenClaims(token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    return null;
  }
  if (payload === null || typeof payload !== 'object') return null;
  const { sub, exp } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number' || !Number.isFinite(exp)) {
    return null;
  }
  return { sub, expiresAtMs: exp * 1000 };
}

/** base64url (RFC 4648 §5, padding optional) to UTF-8 text; throws on bad input. */
function base64UrlDecode(encoded: string): string {
  const base64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
