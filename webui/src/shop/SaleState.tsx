import { formatCountdown, formatDateTime } from '../lib/format';
import type { SaleStatus } from '../lib/types';
import { useNow } from '../lib/useNow';
import { useEffect } from 'react';

const COUNTDOWN_TICK_MS = 250;

/** The sale's state in words, with a live countdown (server-clock corrected) before the start. */
export function SaleState({
  status,
  clockOffsetMs,
  onStartReached,
}: {
  status: SaleStatus | null;
  clockOffsetMs: number;
  onStartReached: () => void;
}) {
  const counting = status?.state === 'upcoming' && status.startsAt !== null;
  const now = useNow(COUNTDOWN_TICK_MS, counting);
  const startsInMs =
    counting && status.startsAt ? Date.parse(status.startsAt) - (now + clockOffsetMs) : 0;
  const startReached = counting && startsInMs <= 0;

  useEffect(() => {
    // The server flips the state at the start; ask at once rather than at the next poll.
    if (startReached) onStartReached();
  }, [startReached, onStartReached]);

  if (!status) {
    return (
      <div className="sale-state sale-state--loading" data-testid="sale-state" data-state="loading">
        Loading the sale…
      </div>
    );
  }

  switch (status.state) {
    case 'upcoming':
      return (
        <div className="sale-state sale-state--upcoming" data-testid="sale-state" data-state="upcoming">
          <span className="sale-state__label">Starts in</span>
          {status.startsAt ? (
            <>
              <span className="countdown" role="timer" aria-live="off" data-testid="countdown">
                {startReached ? 'any moment…' : formatCountdown(startsInMs)}
              </span>
              <span className="sale-state__sub">{formatDateTime(status.startsAt)}</span>
            </>
          ) : (
            <span className="countdown">soon</span>
          )}
        </div>
      );
    case 'open':
      return (
        <div className="sale-state sale-state--open" data-testid="sale-state" data-state="open">
          <span className="pulse" aria-hidden="true" />
          <span className="sale-state__label">Sale is live</span>
          {status.breaker === 'open' ? (
            // The server sheds purchases for a moment (overload, or a journal it cannot write).
            <span className="sale-state__sub" role="status" data-testid="sale-paused">
              Purchases are paused for a moment: try again in a few seconds.
            </span>
          ) : status.endsAt ? (
            <span className="sale-state__sub">until {formatDateTime(status.endsAt)}</span>
          ) : null}
        </div>
      );
    case 'paused':
      // The organiser's pause (not the breaker's moment): nothing sells until they resume.
      return (
        <div className="sale-state sale-state--paused" data-testid="sale-state" data-state="paused">
          <span className="sale-state__label">Sale paused</span>
          <span className="sale-state__sub" role="status" data-testid="sale-paused-by-organiser">
            The sale is paused by the organiser. Buying is off until it resumes; this page
            updates by itself.
          </span>
        </div>
      );
    case 'sold_out':
      return (
        <div className="sale-state sale-state--sold-out" data-testid="sale-state" data-state="sold_out">
          <span className="sale-state__label">Sold out</span>
          <span className="sale-state__sub">
            {status.held
              ? `${status.held} of ${status.total} held for shoppers who have not paid yet: a unit may come back.`
              : `All ${status.total} items found a home.`}
          </span>
        </div>
      );
    case 'ended':
      return (
        <div className="sale-state sale-state--ended" data-testid="sale-state" data-state="ended">
          <span className="sale-state__label">Sale ended</span>
          {status.endsAt ? (
            <span className="sale-state__sub">{formatDateTime(status.endsAt)}</span>
          ) : null}
        </div>
      );
  }
}
