import { useId, useState } from 'react';
import { changeSale, type AdminProblem } from '../lib/adminApi';
import { formatDateTime } from '../lib/format';
import type { SaleChange, SaleResource } from '../lib/types';
import { describeWindow } from './checkoutWindow';
import { ConfirmDialog } from './ConfirmDialog';
import { ProblemMessage } from './ProblemMessage';
import { StateBadge } from './StateBadge';
import { describeQueue } from './waitingRoom';

type Asked =
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'end' }
  | { kind: 'set_end'; endsAt: string | null };

const QUESTIONS: Record<Asked['kind'], { title: string; label: string; danger: boolean }> = {
  pause: { title: 'Pause the sale?', label: 'Pause', danger: false },
  resume: { title: 'Resume the sale?', label: 'Resume', danger: false },
  end: { title: 'End the sale now?', label: 'End now', danger: true },
  set_end: { title: 'Change the end?', label: 'Change the end', danger: false },
};

function changeOf(asked: Asked): SaleChange {
  switch (asked.kind) {
    case 'pause':
      return { state: 'paused' };
    case 'resume':
      return { state: 'open' };
    case 'end':
      return { state: 'ended' };
    case 'set_end':
      return { endsAt: asked.endsAt };
  }
}

function consequence(asked: Asked, sale: SaleResource): string {
  switch (asked.kind) {
    case 'pause':
      return `Shoppers are refused (“paused”) from the moment it is decided until you resume sale ${sale.saleId}.`;
    case 'resume':
      return `Sale ${sale.saleId} sells again at once.`;
    case 'end':
      return `Sale ${sale.saleId} ends at once and for good: an ended sale cannot be resumed.`;
    case 'set_end':
      return asked.endsAt
        ? `Sale ${sale.saleId} will end ${formatDateTime(asked.endsAt)}.`
        : `Sale ${sale.saleId} will have no end: end it by hand.`;
  }
}

/**
 * The current sale's controls: pause, resume, end now, change the end. Each asks first,
 * and is sent with If-Match of the sale as shown: if it changed meanwhile (another
 * operator), the server refuses (412) and nothing is changed.
 */
export function SaleControls({
  token,
  sale,
  onChanged,
  onRefused,
}: {
  token: string;
  sale: SaleResource;
  onChanged: (sale: SaleResource) => void;
  onRefused: (problem: AdminProblem) => void;
}) {
  const id = useId();
  const [asked, setAsked] = useState<Asked | null>(null);
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<AdminProblem | null>(null);
  const [newEnd, setNewEnd] = useState('');
  const ended = sale.state === 'ended';

  async function confirm() {
    if (!asked) return;
    setBusy(true);
    const answer = await changeSale(token, sale.saleId, changeOf(asked), sale.etag);
    setBusy(false);
    setAsked(null);
    if (answer.ok) {
      setRefusal(null);
      onChanged(answer.value);
    } else {
      setRefusal(answer.problem);
      onRefused(answer.problem);
    }
  }

  const askNewEnd = () => {
    if (!newEnd) {
      setAsked({ kind: 'set_end', endsAt: null });
      return;
    }
    const date = new Date(newEnd);
    setAsked({ kind: 'set_end', endsAt: Number.isNaN(date.getTime()) ? newEnd : date.toISOString() });
  };

  return (
    <section className="card" aria-labelledby={`${id}-heading`} data-testid="current-sale">
      <div className="current-sale__head">
        <h2 id={`${id}-heading`}>Sale {sale.saleId}</h2>
        <StateBadge state={sale.state} />
      </div>
      <dl className="order current-sale__facts">
        <dt>Sold</dt>
        <dd data-testid="current-sold">
          {sale.sold} of {sale.total} ({sale.remaining} left)
        </dd>
        <dt>Starts</dt>
        <dd>{sale.startsAt ? formatDateTime(sale.startsAt) : 'at creation'}</dd>
        <dt>Ends</dt>
        <dd data-testid="current-ends">{sale.endsAt ? formatDateTime(sale.endsAt) : 'never'}</dd>
        <dt>Payment window</dt>
        <dd data-testid="current-window">{describeWindow(sale.checkout)}</dd>
        <dt>Waiting room</dt>
        <dd data-testid="current-queue">{describeQueue(sale.queue)}</dd>
        {sale.pausedAt ? (
          <>
            <dt>Paused</dt>
            <dd>{formatDateTime(sale.pausedAt)}</dd>
          </>
        ) : null}
      </dl>
      {ended ? (
        <p className="hint">This sale has ended. Make the next one below.</p>
      ) : (
        <>
          <div className="form__row current-sale__actions">
            {sale.state === 'paused' ? (
              <button type="button" className="button" onClick={() => setAsked({ kind: 'resume' })}>
                Resume
              </button>
            ) : (
              <button type="button" className="button" onClick={() => setAsked({ kind: 'pause' })}>
                Pause
              </button>
            )}
            <button
              type="button"
              className="button button--danger-outline"
              onClick={() => setAsked({ kind: 'end' })}
            >
              End now
            </button>
          </div>
          <div className="form current-sale__end">
            <label htmlFor={`${id}-ends`}>New end</label>
            <div className="form__row">
              <input
                id={`${id}-ends`}
                type="datetime-local"
                value={newEnd}
                aria-describedby={`${id}-ends-hint`}
                onChange={(event) => setNewEnd(event.target.value)}
              />
              <button type="button" className="button" onClick={askNewEnd}>
                Change the end
              </button>
            </div>
            <p id={`${id}-ends-hint`} className="hint">
              Empty: the sale never ends by itself.
            </p>
          </div>
        </>
      )}
      {refusal ? <ProblemMessage problem={refusal} testId="change-refused" /> : null}
      {asked ? (
        <ConfirmDialog
          title={QUESTIONS[asked.kind].title}
          confirmLabel={QUESTIONS[asked.kind].label}
          danger={QUESTIONS[asked.kind].danger}
          busy={busy}
          onConfirm={() => void confirm()}
          onCancel={() => setAsked(null)}
        >
          <p>{consequence(asked, sale)}</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
