import { useCallback } from 'react';
import { fetchAudit } from '../lib/adminApi';
import { formatDateTime } from '../lib/format';
import type { AuditEntry } from '../lib/types';
import { PagedTable } from './PagedTable';
import { usePages } from './usePages';

export const AUDIT_PAGE_SIZE = 20;

const ACTIONS: Record<string, string> = {
  create: 'Created',
  replace: 'Replaced',
  pause: 'Paused',
  resume: 'Resumed',
  end: 'Ended',
  set_end: 'New end',
  refused: 'Refused',
};

function outcomeOf(entry: AuditEntry): string {
  const what = entry.outcome === 'ok' ? 'ok' : entry.outcome.replace(/^\/problems\//, '');
  return `${entry.status} ${what}${entry.replayed ? ' (replayed)' : ''}`;
}

/** Every admin action, refused ones included, oldest first, a page at a time. */
export function AuditTrail({
  token,
  refreshKey,
  pageSize = AUDIT_PAGE_SIZE,
}: {
  token: string;
  /** Changes when the page made an action: the trail is read again. */
  refreshKey: number;
  pageSize?: number;
}) {
  const load = useCallback(
    (after: string | null) => fetchAudit(token, pageSize, after),
    // refreshKey: a new action may have been appended to the page shown.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [token, pageSize, refreshKey],
  );
  const pages = usePages(load, (page) => page.entries);
  return (
    <section className="card" aria-labelledby="audit-heading" data-testid="audit-trail">
      <h2 id="audit-heading">Audit trail</h2>
      <PagedTable
        pages={pages}
        label="Audit trail"
        loading="Loading the trail…"
        empty="Nothing done yet."
        tableTestId="audit-table"
        problemTestId="audit-problem"
        head={
          <>
            <th scope="col" className="num">
              #
            </th>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col" className="num">
              Sale
            </th>
            <th scope="col">Outcome</th>
            <th scope="col" className="wide-only">
              From
            </th>
          </>
        }
        row={(entry) => (
          <tr key={entry.seq} data-action={entry.action}>
            <td className="num">{entry.seq}</td>
            <td>{formatDateTime(entry.at)}</td>
            <td>
              {ACTIONS[entry.action] ?? entry.action}
              {entry.action === 'refused' && entry.attempted ? ` (${entry.attempted})` : ''}
            </td>
            <td className="num">{entry.saleId ?? '—'}</td>
            <td className={entry.outcome === 'ok' ? '' : 'cell--bad'}>{outcomeOf(entry)}</td>
            <td className="wide-only cell--mono">
              {entry.address} · {entry.token}
            </td>
          </tr>
        )}
      />
    </section>
  );
}
