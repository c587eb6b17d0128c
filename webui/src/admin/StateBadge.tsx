import type { AdminSaleState } from '../lib/types';

const WORDS: Record<AdminSaleState, string> = {
  scheduled: 'Scheduled',
  open: 'Open',
  paused: 'Paused',
  sold_out: 'Sold out',
  ended: 'Ended',
};

/** A sale's state in a word, coloured as the shop's sale state is. */
export function StateBadge({ state }: { state: AdminSaleState }) {
  return (
    <span className={`badge badge--${state}`} data-testid="state-badge" data-state={state}>
      {WORDS[state]}
    </span>
  );
}
