import { useCallback, useState } from 'react';
import { fetchOrders, fetchOrdersCsv, saveBlob, type AdminProblem } from '../lib/adminApi';
import { formatDateTime } from '../lib/format';
import type { OrderState } from '../lib/types';
import { PagedTable } from './PagedTable';
import { ProblemMessage } from './ProblemMessage';
import { usePages } from './usePages';

export const ORDERS_PAGE_SIZE = 50;

const STATE_WORDS: Record<OrderState, string> = {
  held: 'Held',
  confirmed: 'Confirmed',
  cancelled: 'Cancelled',
  expired: 'Expired',
};

/** An order's state in a word: only a confirmed one is sold (a held one may still expire). */
function OrderStateBadge({ state }: { state: OrderState }) {
  return (
    <span className={`badge badge--order-${state}`} data-testid="order-state" data-state={state}>
      {STATE_WORDS[state]}
    </span>
  );
}

/**
 * A sale's orders, a page at a time (position order), and the whole list as CSV. A sale
 * with a checkout window shows each order's state and, on a wide screen, the payment
 * reference it was confirmed with; without one every order is confirmed, so neither is shown.
 */
export function OrdersPanel({
  token,
  saleId,
  sold,
  checkout = false,
  refreshKey,
  pageSize = ORDERS_PAGE_SIZE,
}: {
  token: string;
  saleId: number;
  /** The sale's sold count as last read: when it changes, the page shown is read again. */
  sold?: number;
  /** Whether the sale has a checkout window (its orders may be held, cancelled, expired). */
  checkout?: boolean;
  /** Changes when the page shown must be read again although `sold` may not have moved
   * (a sale with checkout: a hold is confirmed or expires and is offered again). */
  refreshKey?: number;
  pageSize?: number;
}) {
  const load = useCallback(
    (after: string | null) => fetchOrders(token, saleId, pageSize, after),
    // `sold`, `refreshKey`: new orders may belong on the page shown, or its states changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [token, saleId, pageSize, sold, refreshKey],
  );
  const pages = usePages(load, (page) => page.orders);
  const [downloading, setDownloading] = useState(false);
  const [csvProblem, setCsvProblem] = useState<AdminProblem | null>(null);

  async function download() {
    setDownloading(true);
    // A link cannot carry the bearer token: fetch the file, then save it.
    const answer = await fetchOrdersCsv(token, saleId);
    setDownloading(false);
    if (answer.ok) {
      setCsvProblem(null);
      saveBlob(answer.value.blob, answer.value.filename);
    } else {
      setCsvProblem(answer.problem);
    }
  }

  return (
    <section className="card" aria-labelledby="orders-heading" data-testid="orders-panel">
      <div className="panel__head">
        <h2 id="orders-heading">Orders of sale {saleId}</h2>
        <button
          type="button"
          className="button button--small"
          onClick={() => void download()}
          disabled={downloading}
          aria-busy={downloading}
          data-testid="download-csv"
        >
          {downloading ? 'Preparing…' : 'Download CSV'}
        </button>
      </div>
      {csvProblem ? <ProblemMessage problem={csvProblem} testId="csv-problem" /> : null}
      <PagedTable
        pages={pages}
        label="Orders"
        loading="Loading the orders…"
        empty="No orders yet."
        tableTestId="orders-table"
        problemTestId="orders-problem"
        emptyTestId="no-orders"
        head={
          <>
            <th scope="col" className="num">
              #
            </th>
            <th scope="col">User</th>
            <th scope="col">SKU</th>
            <th scope="col">Bought</th>
            {checkout ? (
              <>
                <th scope="col">State</th>
                <th scope="col" className="wide-only">
                  Payment
                </th>
              </>
            ) : null}
            <th scope="col" className="wide-only">
              Order
            </th>
          </>
        }
        row={(order) => (
          <tr key={order.orderId} data-state={order.state}>
            <td className="num">{order.position}</td>
            <td className="cell--wrap">{order.userId}</td>
            <td>{order.sku}</td>
            <td>{formatDateTime(order.purchasedAt)}</td>
            {checkout ? (
              <>
                <td>
                  <OrderStateBadge state={order.state} />
                </td>
                <td className="wide-only cell--mono" data-testid="payment-ref">
                  {order.paymentRef ?? '—'}
                </td>
              </>
            ) : null}
            <td className="wide-only cell--mono">{order.orderId}</td>
          </tr>
        )}
      />
    </section>
  );
}
