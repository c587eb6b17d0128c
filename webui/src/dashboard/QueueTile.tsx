import { formatNumber, formatUptime } from '../lib/format';
import type { QueueFigures, QueueStatus } from '../lib/types';
import { Tile } from './Tile';

const STATE_TEXT: Record<QueueStatus['state'], string> = {
  prequeue: 'pre-queue',
  admitting: 'admitting',
  closed: 'closed',
};

/**
 * A sale with a waiting room: tickets issued, those not admitted yet, now serving, the
 * admission rate and the wait of the last in line. From the metrics' `queue` when the
 * operator's figures are read, else from the status the shoppers' pages get (the wait
 * then worked out as a page does: waiting / admitPerMinute).
 */
export function QueueTile({
  figures,
  status,
}: {
  figures: QueueFigures | null | undefined;
  status: QueueStatus | null | undefined;
}) {
  const shown = status ?? figures;
  if (!shown) return null;
  // The stream's figures are the newer; the metrics' estimate is the server's own.
  const { length, waiting, serving, admitPerMinute } = shown;
  const waitS =
    figures?.estimatedWaitSeconds ?? (admitPerMinute && waiting > 0 ? (waiting / admitPerMinute) * 60 : null);
  return (
    <Tile title="Waiting room" testId="tile-waiting-room" tone="neutral" value={`${formatNumber(waiting)} waiting`}>
      {status ? <span data-testid="tile-waiting-room-state">{STATE_TEXT[status.state]} · </span> : null}
      <span data-testid="tile-waiting-room-length">{formatNumber(length)} in the queue</span>
      {' · '}
      <span data-testid="tile-waiting-room-serving">now serving {formatNumber(serving)}</span>
      {' · '}
      <span data-testid="tile-waiting-room-rate">
        {admitPerMinute ? `${formatNumber(admitPerMinute)} admitted a minute` : 'all admitted at the start'}
      </span>
      {waitS !== null ? (
        <>
          {' · '}
          <span data-testid="tile-waiting-room-wait">wait {waitS > 0 ? formatUptime(waitS) : 'none'}</span>
        </>
      ) : null}
    </Tile>
  );
}
