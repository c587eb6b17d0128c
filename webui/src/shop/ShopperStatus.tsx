import { asSentence } from '../lib/format';
import { Message } from './Message';
import type { ShopperIdentity } from './useShopperIdentity';

const SIGNED_OUT_TITLES = {
  missing: 'Sign in to the shop to buy',
  expired: 'Your sign-in has expired',
  rejected: 'Your sign-in was not accepted',
} as const;

/** jwt mode: who is signed in, or why nobody is (and so Buy is off). Nothing in open mode. */
export function ShopperStatus({ identity, id }: { identity: ShopperIdentity; id: string }) {
  switch (identity.kind) {
    case 'open':
      return null;
    case 'unknown':
      return (
        <p id={id} className="hint" data-testid="shopper" data-state="unknown">
          Loading the sale…
        </p>
      );
    case 'signed_in':
      return (
        <p id={id} className="shopper" data-testid="shopper" data-state="signed_in">
          Signed in as <strong className="shopper__name">{identity.name}</strong>
        </p>
      );
    case 'signed_out':
      return (
        <div id={id} data-testid="shopper" data-state={identity.reason}>
          <Message tone="warning" title={SIGNED_OUT_TITLES[identity.reason]} kind={identity.reason}>
            <p>
              {identity.reason === 'rejected' ? rejection(identity.detail) : identity.detail}
            </p>
          </Message>
        </div>
      );
  }
}

/** The server's reason, and what to do about it unless it says so already. */
function rejection(detail: string): string {
  const reason = asSentence(detail);
  return /sign in/i.test(reason) ? reason : `${reason} Sign in to the shop again to buy.`;
}
