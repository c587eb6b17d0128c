import type {} from 'altcha/types/react';
import { useEffect, useRef, useState } from 'react';
import { QUEUE_CHALLENGE_URL } from '../lib/queueApi';

/** The widget's module: the custom element, its styles and workers (tests mock it). */
const loadAltcha = () => import('../lib/altchaWidget');

interface StateChange {
  state?: string;
  payload?: string;
}

/**
 * The ALTCHA check a queue with proof of work asks for before joining: the widget fetches
 * a challenge from the server and solves it in the page (a few seconds of this device's
 * work, not a puzzle); `onPayload` gets the solution to send with the join, or null
 * while there is none (solving, expired, failed).
 */
export function QueueProof({ onPayload }: { onPayload: (payload: string | null) => void }) {
  const ref = useRef<HTMLElement>(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    let live = true;
    loadAltcha().catch(() => {
      if (live) setFailed(true);
    });
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    const widget = ref.current;
    if (!widget) return undefined;
    const onChange = (event: Event) => {
      const { state, payload } = (event as CustomEvent<StateChange>).detail ?? {};
      onPayload(state === 'verified' && payload ? payload : null);
    };
    widget.addEventListener('statechange', onChange);
    return () => {
      widget.removeEventListener('statechange', onChange);
      onPayload(null);
    };
  }, [onPayload]);

  return (
    <div className="queue-proof" data-testid="queue-proof">
      {failed ? (
        <p className="field-error" role="alert">
          The check this queue asks for could not be loaded. Reload the page to try again.
        </p>
      ) : (
        <altcha-widget ref={ref} challenge={QUEUE_CHALLENGE_URL} auto="onload" name="altcha" />
      )}
      <p className="hint">
        This queue asks your device for a few seconds of work before you join: it makes joining
        many times costly for bots.
      </p>
    </div>
  );
}
