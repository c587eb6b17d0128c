import { type FormEvent, useId, useRef, useState } from 'react';
import { type Buyer, lookupOrder } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { rememberedUserId } from '../lib/storage';
import type { LookupResult, Order, SaleProduct } from '../lib/types';
import { userIdProblem } from '../lib/validation';
import { asSentence } from '../lib/format';
import { productName } from './catalogue';
import { Message } from './Message';
import type { ShopperIdentity } from './useShopperIdentity';
import { UserIdInput } from './UserIdInput';

const OPEN: ShopperIdentity = { kind: 'open' };
const NO_PRODUCTS: SaleProduct[] = [];
const ignoreRejection = () => undefined;

/**
 * `lastBuyer`: the id the Buy form last used, copied into the field when it changes.
 * jwt mode (`identity`): no field; the signed-in shopper looks up their own order.
 * `products`: the catalogue that names the product of each order.
 */
export function OrderLookup({
  lastBuyer = null,
  identity = OPEN,
  onRejected = ignoreRejection,
  products = NO_PRODUCTS,
}: {
  lastBuyer?: string | null;
  identity?: ShopperIdentity;
  onRejected?: (token: string, detail: string) => void;
  products?: readonly SaleProduct[];
}) {
  const inputId = useId();
  const asksUserId = identity.kind === 'open';
  const [userId, setUserId] = useState(rememberedUserId);
  const [seenBuyer, setSeenBuyer] = useState(lastBuyer);
  if (lastBuyer !== seenBuyer) {
    setSeenBuyer(lastBuyer);
    if (lastBuyer) setUserId(lastBuyer);
  }
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<LookupResult | null>(null);
  const inFlightRef = useRef(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (inFlightRef.current) return;
    let buyer: Buyer;
    if (identity.kind === 'signed_in') {
      buyer = { token: identity.token };
    } else if (asksUserId) {
      const problem = userIdProblem(userId);
      if (problem) {
        setResult({ kind: 'invalid', detail: problem });
        return;
      }
      buyer = { userId };
    } else {
      return;
    }
    inFlightRef.current = true;
    setBusy(true);
    try {
      const found = await lookupOrder(buyer);
      if (found.kind === 'unauthorized' && 'token' in buyer) onRejected(buyer.token, found.detail);
      setResult(found);
    } finally {
      inFlightRef.current = false;
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="lookup-heading">
      <h2 id="lookup-heading">My order</h2>
      <form className="form" onSubmit={submit} noValidate>
        {asksUserId ? <label htmlFor={inputId}>User id to look up</label> : null}
        <div className="form__row">
          {asksUserId ? (
            <UserIdInput
              id={inputId}
              name="lookupUserId"
              value={userId}
              onValueChange={setUserId}
              data-testid="lookup-user-id"
            />
          ) : null}
          <button
            type="submit"
            className="button"
            disabled={busy || !(asksUserId || identity.kind === 'signed_in')}
            aria-busy={busy}
            data-testid="lookup-button"
          >
            {busy ? 'Looking…' : asksUserId ? 'Look up' : 'Look up my order'}
          </button>
        </div>
      </form>
      <div role="status" aria-live="polite" className="outcome" data-testid="lookup-result">
        {result ? <LookupMessage result={result} products={products} /> : null}
      </div>
    </section>
  );
}

function LookupMessage({ result, products }: { result: LookupResult; products: readonly SaleProduct[] }) {
  switch (result.kind) {
    case 'found':
      return (
        <Message
          tone="success"
          title={result.orders.length > 1 ? `${result.orders.length} orders found` : 'Order found'}
          kind="found"
        >
          {result.orders.map((order) => (
            <OrderDetails key={order.orderId} order={order} products={products} />
          ))}
        </Message>
      );
    case 'none':
      return (
        <Message tone="info" title="No order yet" kind="none">
          <p>
            {result.userId
              ? `There is no purchase for “${result.userId}” in this sale.`
              : 'You have no purchase in this sale.'}
          </p>
        </Message>
      );
    case 'invalid':
      return (
        <Message tone="error" title="Check the user id" kind="invalid">
          <p>{result.detail}</p>
        </Message>
      );
    case 'unauthorized':
      return (
        <Message tone="warning" title="Sign in to see your order" kind="unauthorized">
          <p>{asSentence(result.detail)}</p>
        </Message>
      );
    case 'error':
      return (
        <Message tone="error" title="Could not look it up" kind="error">
          <p>{result.detail}</p>
        </Message>
      );
  }
}

function OrderDetails({ order, products }: { order: Order; products: readonly SaleProduct[] }) {
  const name = productName(products, order.sku);
  return (
    <dl className="order" data-testid="lookup-order" data-sku={order.sku}>
      {name ? (
        <>
          <dt>Product</dt>
          <dd data-testid="lookup-product">{name}</dd>
        </>
      ) : null}
      <dt>Order</dt>
      <dd className="mono">{order.orderId}</dd>
      <dt>Place in line</dt>
      <dd>#{order.position}</dd>
      <dt>Bought</dt>
      <dd>{formatDateTime(order.purchasedAt)}</dd>
    </dl>
  );
}
