import { useEffect } from 'react';
import type { Buyer } from '../lib/api';
import { formatLeft } from '../lib/format';
import type { SaleProduct } from '../lib/types';
import { useNow } from '../lib/useNow';
import { productName } from './catalogue';
import { Message } from './Message';
import type { Checkout } from './useCheckout';

/**
 * A sale with checkout: the unit held for this shopper, counting down to its expiry
 * (server time, `clockOffsetMs`), paid with a demo payment; and the waitlist of a
 * sold-out product whose units are held by others (`waitlistSku`), with the place.
 */
export function CheckoutPanel({
  checkout,
  clockOffsetMs,
  products,
  waitlistSku,
  buyer,
}: {
  checkout: Checkout;
  clockOffsetMs: number;
  products: readonly SaleProduct[];
  /** The product whose waitlist is open to this shopper now, if any. */
  waitlistSku: string | null;
  /** Who joins: null until the shopper has a user id (or is signed in). */
  buyer: Buyer | null;
}) {
  const { state, pay, expired, join } = checkout;
  const counting = state.hold !== null && (state.phase === 'held' || state.phase === 'paying');
  const now = useNow(250, counting);
  const leftMs = state.hold ? Date.parse(state.hold.expiresAt) - (now + clockOffsetMs) : 0;
  useEffect(() => {
    if (counting && state.phase === 'held' && leftMs <= 0) expired();
  }, [counting, state.phase, leftMs, expired]);

  const { hold, entry } = state;
  const name = hold ? productName(products, hold.order.sku) : null;
  const offered = hold !== null && entry?.state === 'offered' && entry.sku === hold.order.sku;
  const showJoin = waitlistSku !== null && (!entry || entry.sku !== waitlistSku) && !counting;
  if (!hold && !entry && !showJoin && !state.joinProblem) return null;

  return (
    <section className="card" aria-labelledby="checkout-heading" data-testid="checkout">
      <h2 id="checkout-heading">Checkout</h2>
      <div role="status" aria-live="polite" className="outcome">
        {hold && counting ? (
          <Message tone="info" title={`Held for you, ${formatLeft(leftMs)} left`} testId="hold" kind="held">
            <p>
              {offered ? 'A unit came back and is yours to take: ' : ''}
              {name ?? 'The unit'} is reserved for you until the time runs out. Pay to make it yours.
            </p>
            {state.problem ? <p data-testid="pay-problem">Payment not taken: {state.problem}</p> : null}
            <button
              type="button"
              className="button button--primary"
              onClick={() => void pay()}
              disabled={state.phase === 'paying'}
              aria-busy={state.phase === 'paying'}
              data-testid="pay-button"
            >
              {state.phase === 'paying' ? 'Paying…' : 'Pay (demo)'}
            </button>
          </Message>
        ) : null}
        {hold && state.phase === 'confirmed' ? (
          <Message tone="success" title="Paid: it's yours!" testId="hold" kind="confirmed">
            <p>
              Order {hold.order.orderId} is confirmed (payment {state.paymentRef}).
            </p>
          </Message>
        ) : null}
        {hold && state.phase === 'expired' ? (
          <Message tone="warning" title="Your hold expired; the unit went to the next shopper" testId="hold" kind="expired">
            <p>Nothing was charged.</p>
          </Message>
        ) : null}
        {hold && state.phase === 'cancelled' ? (
          <Message tone="warning" title="Your hold was cancelled" testId="hold" kind="cancelled">
            <p>The unit was released; nothing was charged.</p>
          </Message>
        ) : null}
        {entry && !offered ? <WaitlistMessage place={entry.place} state={entry.state} /> : null}
        {state.joinProblem ? (
          <Message tone="warning" title="Could not join the waitlist" testId="join-problem">
            <p>{state.joinProblem}</p>
          </Message>
        ) : null}
      </div>
      {showJoin ? (
        <div className="checkout__join">
          <p className="hint">
            Sold out, but some units are only held: if a hold runs out, the next in line gets it.
          </p>
          <button
            type="button"
            className="button"
            disabled={buyer === null}
            onClick={() => buyer && waitlistSku && void join(buyer, waitlistSku)}
            data-testid="join-waitlist"
          >
            Join the waitlist
          </button>
          {buyer === null ? <p className="hint">Enter your user id above first.</p> : null}
        </div>
      ) : null}
    </section>
  );
}

function WaitlistMessage({ place, state }: { place: number; state: string }) {
  if (state === 'closed') {
    return (
      <Message tone="info" title="The waitlist closed" testId="waitlist" kind="closed">
        <p>Every held unit was paid for. Thanks for waiting!</p>
      </Message>
    );
  }
  return (
    <Message tone="info" title={`You are number ${place} on the waitlist`} testId="waitlist" kind={state}>
      <p>Keep this page open: if a hold runs out, the unit is held for the next in line.</p>
    </Message>
  );
}
