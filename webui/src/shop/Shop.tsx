import { useCallback, useState } from 'react';
import { formatPrice } from '../lib/format';
import type { SaleProduct } from '../lib/types';
import { STATUS_POLL_MS, useLiveStatus } from '../lib/useLiveStatus';
import { BuyForm } from './BuyForm';
import { OrderLookup } from './OrderLookup';
import { ProductPicker } from './ProductPicker';
import { ProductPicture } from './ProductPicture';
import { SaleState } from './SaleState';
import { StockMeter } from './StockMeter';
import { useProductChoice } from './useProductChoice';
import { useShopperIdentity } from './useShopperIdentity';

const NO_PRODUCTS: SaleProduct[] = [];

export function Shop({ pollMs = STATUS_POLL_MS }: { pollMs?: number }) {
  const { status, clockOffsetMs, mode, problem, refresh } = useLiveStatus(pollMs);
  // No status yet: the mode is not known. A server without `auth` is older: open.
  const { identity, reject } = useShopperIdentity(status === null ? undefined : (status.auth ?? null));
  const choice = useProductChoice(status?.products ?? NO_PRODUCTS);
  const [lastBuyer, setLastBuyer] = useState<string | null>(null);
  const onAnswered = useCallback(
    (userId: string) => {
      setLastBuyer(userId);
      // The stream brings the change within a second anyway; the shopper's own should show at once.
      refresh();
    },
    [refresh],
  );
  const shown = choice.shown;

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
        <BuyForm
          onAnswered={onAnswered}
          identity={identity}
          onRejected={reject}
          choice={choice}
          paused={status?.state === 'paused'}
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
