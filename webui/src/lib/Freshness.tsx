import type { LiveMode } from './statusStream';

const WORDS: Record<LiveMode, string> = {
  live: 'Live updates',
  polling: 'Updating every second',
  connecting: 'Connecting…',
};

/** Says whether `what` is pushed live or polled (see useLiveStatus). */
export function Freshness({ mode, what }: { mode: LiveMode; what: string }) {
  return (
    <span
      className={`freshness freshness--${mode}`}
      role="status"
      data-testid="stock-freshness"
      data-mode={mode}
    >
      <span className="freshness__dot" aria-hidden="true" />
      <span className="visually-hidden">{what}: </span>
      {WORDS[mode]}
    </span>
  );
}
