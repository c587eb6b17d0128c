import type { OutcomeKind } from '../lib/types';

/** One colour and label per purchase outcome, shared by the chart and the table. */
export const OUTCOME_STYLE: Record<OutcomeKind, { label: string; color: string }> = {
  confirmed: { label: 'confirmed', color: '#2f9e44' },
  already_purchased: { label: 'already bought', color: '#1c7ed6' },
  sold_out: { label: 'sold out', color: '#7048e8' },
  not_started: { label: 'not started', color: '#868e96' },
  ended: { label: 'ended', color: '#495057' },
  rate_limited: { label: 'rate limited', color: '#f08c00' },
  unavailable: { label: 'unavailable', color: '#e03131' },
  pending: { label: 'pending', color: '#0c8599' },
  invalid: { label: 'invalid', color: '#c2255c' },
  unknown_product: { label: 'unknown product', color: '#5c940d' },
  paused: { label: 'paused', color: '#adb5bd' },
  held: { label: 'held', color: '#f783ac' },
  not_admitted: { label: 'not admitted', color: '#e8590c' },
};
