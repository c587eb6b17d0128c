import { useCallback, useState } from 'react';
import { STATUS_POLL_MS, useLiveStatus } from '../lib/useLiveStatus';
import { BuyForm } from './BuyForm';
import { OrderLookup } from './OrderLookup';
import { PRODUCT } from './product';
import { SaleState } from './SaleState';
import { StockMeter } from './StockMeter';
import { useShopperIdentity } from './useShopperIdentity';

export function Shop({ pollMs = STATUS_POLL_MS }: { pollMs?: number }) {
  const { status, clockOffsetMs, mode, problem, refresh } = useLiveStatus(pollMs);
  // No status yet: the mode is not known. A server without `auth` is older: open.
  const { identity, reject } = useShopperIdentity(status === null ? undefined : (status.auth ?? null));
  const [lastBuyer, setLastBuyer] = useState<string | null>(null);
  const onAnswered = useCallback(
    (userId: string) => {
      setLastBuyer(userId);
      // The stream brings the change within a second anyway; the shopper's own should show at once.
      refresh();
    },
    [refresh],
  );

  return (
    <div className="shop">
      <section className="card product" aria-labelledby="product-heading">
        <ProductPicture />
        <div className="product__info">
          <p className="eyebrow">{PRODUCT.edition}</p>
          <h1 id="product-heading">{PRODUCT.name}</h1>
          <p className="price">
            <span className="price__now">{PRODUCT.price}</span>{' '}
            <s className="price__was" aria-label={`was ${PRODUCT.listPrice}`}>
              {PRODUCT.listPrice}
            </s>
          </p>
          <p className="product__blurb">{PRODUCT.blurb}</p>
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
        <BuyForm onAnswered={onAnswered} identity={identity} onRejected={reject} />
        <OrderLookup lastBuyer={lastBuyer} identity={identity} onRejected={reject} />
      </div>
    </div>
  );
}

function ProductPicture() {
  return (
    <div className="product__picture" aria-hidden="true">
      <svg viewBox="0 0 200 200" role="presentation">
        <defs>
          <linearGradient id="cup" x1="0" x2="1" y1="0" y2="1">
            <stop offset="0" stopColor="#3b5bdb" />
            <stop offset="1" stopColor="#1d2b4f" />
          </linearGradient>
        </defs>
        <path
          d="M40 110 C40 50 160 50 160 110"
          fill="none"
          stroke="#1d2b4f"
          strokeWidth="12"
          strokeLinecap="round"
        />
        <rect x="22" y="100" width="44" height="68" rx="18" fill="url(#cup)" />
        <rect x="134" y="100" width="44" height="68" rx="18" fill="url(#cup)" />
        <rect x="32" y="116" width="10" height="36" rx="5" fill="#ffb020" />
        <rect x="158" y="116" width="10" height="36" rx="5" fill="#ffb020" />
      </svg>
    </div>
  );
}
