import { formatNumber, formatUptime } from '../lib/format';
import type { QueueStatus } from '../lib/types';
import { Tile } from './Tile';

const STATE_TEXT: Record<QueueStatus['state'], string> = {
  prequeue: 'pre-queue',
  admitting: 'admitting',
  closed: 'closed',
};

/**
 * A sale with a waiting room: tickets not admitted yet, tickets issued, now serving, the
 * admission rate and the server's estimate of the last in line's wait (the sale's
 * `queue`, as the shoppers' pages get it, else as the metrics' sale has it).
 */
export function QueueTile({ queue }: { queue: QueueStatus | null | undefined }) {
  if (!queue) return null;
  const { length, waiting, serving, admitPerMinute, estimatedWaitSeconds: waitS } = queue;
  return (
    <Tile title="Waiting room" testId="tile-waiting-room" tone="neutral" value={`${formatNumber(waiting)} waiting`}>
      <span data-testid="tile-waiting-room-state">{STATE_TEXT[queue.state]}</span>
      {' · '}
      <span data-testid="tile-waiting-room-length">{formatNumber(length)} in the queue</span>
      {' · '}
      <span data-testid="tile-waiting-room-serving">now serving {formatNumber(serving)}</span>
      {' · '}
      <span data-testid="tile-waiting-room-rate">
        {admitPerMinute ? `${formatNumber(admitPerMinute)} admitted a minute` : 'all admitted at the start'}
      </span>
      {' · '}
      <span data-testid="tile-waiting-room-wait">wait {waitS > 0 ? formatUptime(waitS) : 'none'}</span>
    </Tile>
  );
}
