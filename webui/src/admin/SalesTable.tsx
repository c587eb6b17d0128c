import { formatDateTime, formatNumber } from '../lib/format';
import type { SaleResource } from '../lib/types';
import { StateBadge } from './StateBadge';

/** Every sale, newest first, with its state and totals; one may be chosen for its orders. */
export function SalesTable({
  sales,
  chosen,
  onChoose,
}: {
  sales: SaleResource[];
  chosen: number | null;
  onChoose: (saleId: number) => void;
}) {
  return (
    <section className="card" aria-labelledby="sales-heading">
      <h2 id="sales-heading">Sales</h2>
      {sales.length === 0 ? (
        <p className="hint">No sale yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="sales-table">
            <thead>
              <tr>
                <th scope="col">Sale</th>
                <th scope="col">State</th>
                <th scope="col" className="wide-only">
                  Products
                </th>
                <th scope="col" className="num">
                  Sold
                </th>
                <th scope="col" className="num">
                  Left
                </th>
                <th scope="col" className="wide-only">
                  Created
                </th>
                <th scope="col" className="wide-only">
                  Ends
                </th>
                <th scope="col">
                  <span className="visually-hidden">Orders</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sales.map((sale) => (
                <tr key={sale.saleId} data-testid={`sale-row-${sale.saleId}`}>
                  <th scope="row">{sale.saleId}</th>
                  <td>
                    <StateBadge state={sale.state} />
                  </td>
                  <td className="sales__products wide-only">
                    {sale.products.map((product) => product.name).join(', ')}
                  </td>
                  <td className="num">
                    {formatNumber(sale.sold)} / {formatNumber(sale.total)}
                  </td>
                  <td className="num">{formatNumber(sale.remaining)}</td>
                  <td className="wide-only">{formatDateTime(sale.createdAt)}</td>
                  <td className="wide-only">{sale.endsAt ? formatDateTime(sale.endsAt) : '—'}</td>
                  <td>
                    <button
                      type="button"
                      className="button button--small"
                      aria-pressed={chosen === sale.saleId}
                      aria-label={`Orders of sale ${sale.saleId}`}
                      onClick={() => onChoose(sale.saleId)}
                    >
                      Orders
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
