import { useCallback, useState } from 'react';
import { fetchOrders, fetchOrdersCsv, saveBlob, type AdminProblem } from '../lib/adminApi';
import { formatDateTime } from '../lib/format';
import { Pager } from './Pager';
import { ProblemMessage } from './ProblemMessage';
import { usePages } from './usePages';

export const ORDERS_PAGE_SIZE = 50;

/** A sale's orders, a page at a time (position order), and the whole list as CSV. */
export function OrdersPanel({
  token,
  saleId,
  sold,
  pageSize = ORDERS_PAGE_SIZE,
}: {
  token: string;
  saleId: number;
  /** The sale's sold count as last read: when it changes, the page shown is read again. */
  sold?: number;
  pageSize?: number;
}) {
  const load = useCallback(
    (after: string | null) => fetchOrders(token, saleId, pageSize, after),
    // `sold`: new orders may belong on the page shown.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [token, saleId, pageSize, sold],
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
      {pages.problem ? <ProblemMessage problem={pages.problem} testId="orders-problem" /> : null}
      {pages.items === null ? (
        <p className="hint">Loading the orders…</p>
      ) : pages.items.length === 0 && pages.number === 1 ? (
        <p className="hint" data-testid="no-orders">
          No orders yet.
        </p>
      ) : (
        <>
          <div className="table-scroll">
            <table className="table" data-testid="orders-table">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    #
                  </th>
                  <th scope="col">User</th>
                  <th scope="col">SKU</th>
                  <th scope="col">Bought</th>
                  <th scope="col" className="wide-only">
                    Order
                  </th>
                </tr>
              </thead>
              <tbody>
                {pages.items.map((order) => (
                  <tr key={order.orderId}>
                    <td className="num">{order.position}</td>
                    <td className="cell--wrap">{order.userId}</td>
                    <td>{order.sku}</td>
                    <td>{formatDateTime(order.purchasedAt)}</td>
                    <td className="wide-only cell--mono">{order.orderId}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pages={pages} label="Orders" />
        </>
      )}
    </section>
  );
}
