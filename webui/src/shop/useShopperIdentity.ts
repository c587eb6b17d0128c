import { useCallback, useEffect, useState } from 'react';
import { captureTokenFromAddress, offeredTokens, tokenClaims } from '../lib/shopperToken';
import type { SaleAuth } from '../lib/types';

/**
 * Who buys on this page. `unknown`: no status read yet, so the mode is not known;
 * `open`: the shopper types a user id; `signed_in` / `signed_out`: jwt mode.
 */
export type ShopperIdentity =
  | { kind: 'unknown' }
  | { kind: 'open' }
  | { kind: 'signed_in'; token: string; name: string }
  | {
      kind: 'signed_out';
      /** `rejected`: the server answered 401 to this token, or it cannot be read. */
      reason: 'missing' | 'expired' | 'rejected';
      detail: string;
    };

export interface ShopperIdentityView {
  identity: ShopperIdentity;
  /** The server answered 401 to `token`: show `detail`, and buy no more with it. */
  reject: (token: string, detail: string) => void;
}

const UNREADABLE = 'The sign-in the shop gave this page cannot be read.';
/** setTimeout's longest delay: a token that expires later is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The shopper for `auth`: undefined until the first status, null from a server older
 * than sign-ins (open mode). In jwt mode, the first token on offer (the link's, then
 * the cookie's) that is readable, not expired by this page's clock, and not refused
 * by the server; else why there is none.
 */
export function useShopperIdentity(auth: SaleAuth | null | undefined): ShopperIdentityView {
  // When the page last looked: a token expires, or the shop sets its cookie meanwhile.
  const [checkedAtMs, setCheckedAtMs] = useState(() => Date.now());
  const [rejected, setRejected] = useState<{ token: string; detail: string } | null>(null);
  const jwt = auth?.mode === 'jwt';

  const identity: ShopperIdentity =
    auth === undefined
      ? { kind: 'unknown' }
      : jwt
        ? signedIn(offeredTokens(auth.tokenCookie), checkedAtMs, rejected)
        : { kind: 'open' };

  const expiresAtMs =
    identity.kind === 'signed_in' ? (tokenClaims(identity.token)?.expiresAtMs ?? 0) : null;
  useEffect(() => {
    if (expiresAtMs === null) return undefined;
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(0, expiresAtMs - Date.now()) + 1);
    const timer = window.setTimeout(() => setCheckedAtMs(Date.now()), delayMs);
    return () => window.clearTimeout(timer);
  }, [expiresAtMs]);

  // Back from signing in on the shop (another tab), or a new `#token=` link in this one.
  useEffect(() => {
    if (!jwt) return undefined;
    const look = () => setCheckedAtMs(Date.now());
    const onHashChange = () => {
      captureTokenFromAddress();
      look();
    };
    window.addEventListener('focus', look);
    document.addEventListener('visibilitychange', look);
    window.addEventListener('hashchange', onHashChange);
    return () => {
      window.removeEventListener('focus', look);
      document.removeEventListener('visibilitychange', look);
      window.removeEventListener('hashchange', onHashChange);
    };
  }, [jwt]);

  const reject = useCallback((token: string, detail: string) => setRejected({ token, detail }), []);
  return { identity, reject };
}

function signedIn(
  tokens: string[],
  nowMs: number,
  rejected: { token: string; detail: string } | null,
): ShopperIdentity {
  const usable = tokens.find((token) => {
    const claims = tokenClaims(token);
    return claims !== null && claims.expiresAtMs > nowMs && token !== rejected?.token;
  });
  if (usable) return { kind: 'signed_in', token: usable, name: tokenClaims(usable)?.sub ?? '' };
  const [first] = tokens;
  if (first === undefined) {
    return {
      kind: 'signed_out',
      reason: 'missing',
      detail: 'This sale is for signed-in shoppers: sign in on the shop, then come back from its link.',
    };
  }
  if (first === rejected?.token) return { kind: 'signed_out', reason: 'rejected', detail: rejected.detail };
  if (tokenClaims(first) === null) return { kind: 'signed_out', reason: 'rejected', detail: UNREADABLE };
  return {
    kind: 'signed_out',
    reason: 'expired',
    detail: 'Sign in to the shop again, then come back from its link to buy.',
  };
}
