import { formatNumber } from '../lib/format';
import type { Metrics } from '../lib/types';

/** Admin requests since the server started, by action and outcome; nothing until there is one. */
export function AdminActionsTable({ actions }: { actions: Metrics['adminActions'] | undefined }) {
  const rows = Object.entries(actions ?? {}).filter(([, outcomes]) => Object.keys(outcomes).length > 0);
  if (rows.length === 0) return null;
  return (
    <section className="card" aria-labelledby="admin-actions-heading">
      <h2 id="admin-actions-heading">Admin actions</h2>
      <table className="table" data-testid="admin-actions-table">
        <thead>
          <tr>
            <th scope="col">Action</th>
            <th scope="col">Outcomes</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([action, outcomes]) => (
            <tr key={action} data-testid={`admin-action-${action}`}>
              <th scope="row">{action.replace('_', ' ')}</th>
              <td>
                {Object.entries(outcomes)
                  .map(([outcome, count]) => `${outcome} ${formatNumber(count)}`)
                  .join(' · ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
