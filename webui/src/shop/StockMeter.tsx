import { formatNumber } from '../lib/format';
import { Freshness } from '../lib/Freshness';
import type { LiveMode } from '../lib/statusStream';
import type { SaleStatus } from '../lib/types';

export function StockMeter({ status, mode }: { status: SaleStatus | null; mode: LiveMode }) {
  const total = status?.total ?? 0;
  const remaining = status?.remaining ?? 0;
  const ratio = total > 0 ? remaining / total : 0;
  const ended = status?.state === 'ended';
  // After the end, what is left is no longer on offer: grey, and called unsold.
  const level = ended ? 'ended' : ratio > 0.5 ? 'plenty' : ratio > 0.1 ? 'low' : 'last';
  return (
    <div className="stock" data-testid="stock">
      <p className="stock__figures">
        <span className="stock__remaining" data-testid="stock-remaining">
          {status ? formatNumber(remaining) : '–'}
        </span>{' '}
        <span className="stock__of">
          of <span data-testid="stock-total">{status ? formatNumber(total) : '–'}</span>{' '}
          {ended ? 'unsold' : 'left'}
        </span>
      </p>
      <div
        className="bar"
        role="progressbar"
        aria-label="Items left"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={remaining}
        aria-valuetext={status ? `${remaining} of ${total} ${ended ? 'unsold' : 'left'}` : 'loading'}
      >
        <div className={`bar__fill bar__fill--${level}`} style={{ width: `${ratio * 100}%` }} />
      </div>
      <div className="stock__foot">
        <p className="stock__sold">{status ? `${formatNumber(status.sold)} sold${status.held ? ` · ${formatNumber(status.held)} held` : ''}` : ''}</p>
        <Freshness mode={mode} what="Stock" />
      </div>
    </div>
  );
}
