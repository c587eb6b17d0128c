import { formatNumber } from '../lib/format';
import { OUTCOME_KINDS, type Metrics } from '../lib/types';
import { OUTCOME_STYLE } from './outcomeStyle';

/** Purchase answers by outcome: the current sale's own, and every one since the server started. */
export function OutcomesTable({ metrics }: { metrics: Metrics | null }) {
  const sale = metrics?.currentSale ?? null;
  return (
    <section className="card" aria-labelledby="outcomes-heading">
      <h2 id="outcomes-heading">Outcomes</h2>
      <table className="table" data-testid="outcomes-table">
        <thead>
          <tr>
            <th scope="col">Outcome</th>
            <th scope="col" className="num" data-testid="sale-outcomes-heading">
              {sale ? `Sale ${sale.saleId}` : 'This sale'}
            </th>
            <th scope="col" className="num">
              Since start
            </th>
          </tr>
        </thead>
        <tbody>
          {OUTCOME_KINDS.map((kind) => (
            <tr key={kind}>
              <th scope="row">
                <span className="legend__swatch" style={{ background: OUTCOME_STYLE[kind].color }} aria-hidden="true" />
                {OUTCOME_STYLE[kind].label}
              </th>
              <td className="num" data-testid={`sale-outcome-${kind}`}>
                {sale ? formatNumber(sale.outcomes[kind] ?? 0) : '–'}
              </td>
              <td className="num" data-testid={`outcome-${kind}`}>
                {metrics ? formatNumber(metrics.outcomes[kind] ?? 0) : '–'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
