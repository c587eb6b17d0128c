import { useCallback, useState } from 'react';
import { formatPrice } from '../lib/format';
import type { SaleProduct } from '../lib/types';
import { STATUS_POLL_MS, useLiveStatus } from '../lib/useLiveStatus';
import type { Buyer } from '../lib/api';
import { rememberedUserId } from '../lib/storage';
import { userIdProblem } from '../lib/validation';
import { BuyForm, type QueueGate } from './BuyForm';
import { CheckoutPanel } from './CheckoutPanel';
import { OrderLookup } from './OrderLookup';
import { ProductPicker } from './ProductPicker';
import { ProductPicture } from './ProductPicture';
import { QueuePanel } from './QueuePanel';
import { SaleState } from './SaleState';
import { StockMeter } from './StockMeter';
import { useCheckout } from './useCheckout';
import { useProductChoice } from './useProductChoice';
import type { QueueView } from './queueView';
import { type Queue, useQueue } from './useQueue';
import { type ShopperIdentity, useShopperIdentity } from './useShopperIdentity';

const NO_PRODUCTS: SaleProduct[] = [];

export function Shop({ pollMs = STATUS_POLL_MS }: { pollMs?: number }) {
  const { status, clockOffsetMs, mode, problem, refresh } = useLiveStatus(pollMs);
  // No status yet: the mode is not known. A server without `auth` is older: open.
  const { identity, reject } = useShopperIdentity(status === null ? undefined : (status.auth ?? null));
  const choice = useProductChoice(status?.products ?? NO_PRODUCTS);
  const [lastBuyer, setLastBuyer] = useState<string | null>(null);
  const shown = choice.shown;
  const [typedId, setTypedId] = useState(rememberedUserId);
  const buyer = buyerOf(identity, typedId);
  // A sale with a queue: the ticket of the person on this page (every tab of theirs).
  const queue = useQueue(status, clockOffsetMs, whoOf(identity, buyer));
  const { reread } = queue;
  const onAnswered = useCallback(
    (userId: string) => {
      setLastBuyer(userId);
      // The stream brings the change within a second anyway; the shopper's own should show at once.
      refresh();
      // A purchase with a ticket used its turn.
      reread();
    },
    [refresh, reread],
  );
  // A payment changes the stock figures: show them at once, as after a purchase.
  const checkout = useCheckout(status?.offers, buyer && 'userId' in buyer ? buyer.userId : '', refresh);
  // Sold out with units only held: one may come back, to the first on the waitlist.
  const waitlistSku =
    status?.checkout && shown && shown.remaining === 0 && (shown.held ?? 0) > 0 && status.state !== 'ended'
      ? shown.sku
      : null;

  return (
    <div className="shop">
      <section className="card product" aria-labelledby="product-heading">
        <ProductPicture
          key={shown?.imageUrl ?? ''}
          imageUrl={shown?.imageUrl ?? null}
          name={shown?.name ?? ''}
        />
        <div className="product__info">
          <ProductText product={shown} />
          {choice.several ? <ProductPicker choice={choice} /> : null}
          <SaleState status={status} clockOffsetMs={clockOffsetMs} onStartReached={refresh} />
          <StockMeter status={status} mode={mode} />
          {problem ? (
            <p className="live-problem" role="alert" data-testid="status-problem">
              Live updates interrupted: {problem} Retrying…
            </p>
          ) : null}
        </div>
      </section>
      <div className="shop__side">
        <QueuePanel
          view={queue.view}
          queue={status?.queue ?? null}
          serving={queue.serving}
          saleState={status?.state}
          problem={queue.problem}
        />
        <BuyForm
          onAnswered={onAnswered}
          identity={identity}
          onRejected={reject}
          choice={choice}
          paused={status?.state === 'paused'}
          onHeld={checkout.held}
          onUserIdChange={setTypedId}
          onWaitlist={checkout.state.entry !== null}
          queue={gateOf(queue)}
        />
        <CheckoutPanel
          checkout={checkout}
          clockOffsetMs={clockOffsetMs}
          products={choice.products}
          waitlistSku={waitlistSku}
          buyer={buyer}
        />
        <OrderLookup
          lastBuyer={lastBuyer}
          identity={identity}
          onRejected={reject}
          products={choice.products}
        />
      </div>
    </div>
  );
}

/** Who joins a waitlist: the signed-in shopper, else the user id typed (if valid). */
function buyerOf(identity: ShopperIdentity, typedId: string): Buyer | null {
  if (identity.kind === 'signed_in') return { token: identity.token };
  if (identity.kind !== 'open') return null;
  return typedId && !userIdProblem(typedId) ? { userId: typedId } : null;
}

/** Whose ticket the page shows: the signed-in shopper's, else the user id typed (if valid). */
function whoOf(identity: ShopperIdentity, buyer: Buyer | null): string | null {
  if (identity.kind === 'signed_in') return identity.name;
  return buyer && 'userId' in buyer ? buyer.userId : null;
}

/** Why Buy is off in a sale with a queue, by the shopper's moment in it. */
const BUY_OFF: Partial<Record<QueueView['kind'], string>> = {
  lapsed: 'Your turn in the queue ran out.',
  used: 'You used your turn in the queue.',
  closed: 'The queue is closed.',
};

/** What Buy does in a sale with a queue; null without one. */
function gateOf(queue: Queue): QueueGate | null {
  const { view } = queue;
  if (view.kind === 'off') return null;
  const joinable = view.kind === 'join' || view.kind === 'not_open';
  return {
    ticket: queue.admittedTicket,
    why: BUY_OFF[view.kind] ?? 'Buy opens at your turn in the queue.',
    join: joinable
      ? { open: view.kind === 'join', busy: queue.joining, proofOfWork: queue.proofOfWork, send: queue.join }
      : null,
  };
}

/** Name, price and description of the product shown; older servers send no catalogue. */
function ProductText({ product }: { product: SaleProduct | null }) {
  // Loading (the sale state says so), or an older server.
  if (!product) return <h1 id="product-heading">Flash sale</h1>;
  return (
    <>
      <p className="eyebrow">Flash sale · while stock lasts</p>
      <h1 id="product-heading" data-testid="product-name">
        {product.name}
      </h1>
      <p className="price">
        <span className="price__now" data-testid="product-price">
          {formatPrice(product.priceCents, product.currency)}
        </span>
      </p>
      {product.description ? (
        <p className="product__blurb" data-testid="product-description">
          {product.description}
        </p>
      ) : null}
    </>
  );
}
