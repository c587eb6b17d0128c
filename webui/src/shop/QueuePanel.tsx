import { formatCountdown, formatLeft, formatNumber } from '../lib/format';
import type { QueueStatus, SaleState } from '../lib/types';
import { Message } from './Message';
import { waitingTitle, type QueueView } from './queueView';

/**
 * A sale's waiting room as this shopper stands in it: joining, the pre-queue, the place
 * and the wait (from the stream's "now serving"), the turn with its countdown, and the
 * queue closed by the sell-out. Joining itself is Buy's button (BuyForm).
 */
export function QueuePanel({
  view,
  queue,
  serving,
  saleState,
  problem,
}: {
  view: QueueView;
  queue: QueueStatus | null;
  /** Now serving as the page reckons it between the stream's pushes. */
  serving: number;
  saleState: SaleState | undefined;
  /** Why joining did not go through. */
  problem: string | null;
}) {
  if (view.kind === 'off' || !queue) return null;
  return (
    <section className="card queue" aria-labelledby="queue-heading" data-testid="queue">
      <h2 id="queue-heading">Waiting room</h2>
      <div role="status" aria-live="polite" className="outcome">
        <QueueMessage view={view} queue={queue} saleState={saleState} />
        {problem ? (
          <Message tone="warning" title="Could not join the queue" testId="queue-problem">
            <p>{problem}</p>
          </Message>
        ) : null}
      </div>
      <p className="hint queue__figures" data-testid="queue-figures">
        {formatNumber(queue.length)} in the queue · now serving {formatNumber(Math.max(serving, queue.serving))}
        {queue.admitPerMinute ? ` · ${formatNumber(queue.admitPerMinute)} let in a minute` : ''}
      </p>
    </section>
  );
}

function QueueMessage({
  view,
  queue,
  saleState,
}: {
  view: Exclude<QueueView, { kind: 'off' }>;
  queue: QueueStatus;
  saleState: SaleState | undefined;
}) {
  const kind = view.kind;
  switch (view.kind) {
    case 'not_open':
      return (
        <Message tone="info" title={`The queue opens in ${formatCountdown(view.opensInMs)}`} testId="queue-message" kind={kind}>
          <p>Keep this page open: you can join the queue from then, before the sale starts.</p>
        </Message>
      );
    case 'join':
      return (
        <Message tone="info" title="Join the queue to buy" testId="queue-message" kind={kind}>
          <p>
            {saleState !== 'upcoming'
              ? 'You get the next place at the end of the queue. '
              : queue.shuffle
                ? 'Everyone who joins before the start gets a place drawn at random at the start: joining early gains nothing. '
                : 'Those who join before the start are placed in the order they joined. '}
            Shoppers are then let in to buy in turn.
          </p>
        </Message>
      );
    case 'prequeue':
      return (
        <Message tone="info" title="You are in the queue. Your place is drawn at the start." testId="queue-message" kind={kind}>
          <p>Keep this page open: it follows the queue by itself.</p>
        </Message>
      );
    case 'drawing':
      return (
        <Message tone="info" title="The sale started: finding your place…" testId="queue-message" kind={kind}>
          <p>Keep this page open.</p>
        </Message>
      );
    case 'waiting':
      return (
        <Message tone="info" title={waitingTitle(view.ahead, view.waitMinutes)} testId="queue-message" kind={kind}>
          <p>
            Your place is {formatNumber(view.place)}. Keep this page open: Buy opens at your turn.
          </p>
        </Message>
      );
    case 'due':
      return view.sure ? (
        <Message tone="success" title="Your turn: buy now" testId="queue-message" kind={kind}>
          <p>Checking how long you have…</p>
        </Message>
      ) : (
        <Message tone="info" title="Your turn is coming" testId="queue-message" kind={kind}>
          <p>Checking with the shop: Buy opens as soon as it says so.</p>
        </Message>
      );
    case 'turn':
      return (
        <Message
          tone="success"
          title={view.leftMs === null ? 'Your turn: buy now' : `Your turn: buy within ${formatLeft(view.leftMs)}`}
          testId="queue-message"
          kind={kind}
        >
          <p>Buy before the time runs out; then the turn goes to the next in the queue.</p>
        </Message>
      );
    case 'lapsed':
      return (
        <Message tone="warning" title="Your turn ran out" testId="queue-message" kind={kind}>
          <p>Nothing was bought in your time ({formatNumber(queue.admittedSeconds)} s); the turn went on to the next in the queue.</p>
        </Message>
      );
    case 'used':
      return (
        <Message tone="info" title="You had your turn" testId="queue-message" kind={kind}>
          <p>A purchase used it: see its outcome under My order.</p>
        </Message>
      );
    case 'closed':
      return (
        <Message
          tone="warning"
          title={saleState === 'ended' ? 'The sale ended, the queue is closed' : 'Sold out, the queue is closed'}
          testId="queue-message"
          kind={kind}
        >
          <p>Nobody more is let in to buy. Thanks for waiting!</p>
        </Message>
      );
  }
}
