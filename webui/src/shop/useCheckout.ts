import { useCallback, useEffect, useRef, useState } from 'react';
import type { Buyer } from '../lib/api';
import {
  confirmHold,
  demoPaymentRef,
  joinWaitlist,
  readWaitlistEntry,
  type WaitlistEntry,
} from '../lib/checkoutApi';
import type { Hold } from '../lib/types';

/**
 * This tab's checkout: the unit held for the shopper (from Buy, or offered from the
 * waitlist) and what became of it, and their waitlist entry. Kept in sessionStorage:
 * the checkout and waitlist tokens are the shopper's proof, for this tab only.
 */
export type HoldPhase = 'held' | 'paying' | 'confirmed' | 'expired' | 'cancelled';

export interface CheckoutState {
  hold: Hold | null;
  phase: HoldPhase;
  paymentRef: string | null;
  /** Why a payment did not go through (network, a refusal), when it did not. */
  problem: string | null;
  entry: WaitlistEntry | null;
  /** The waitlist could not be joined: why. */
  joinProblem: string | null;
}

const KEY = 'flashsale.checkout';
const EMPTY: CheckoutState = {
  hold: null,
  phase: 'held',
  paymentRef: null,
  problem: null,
  entry: null,
  joinProblem: null,
};

function remembered(): CheckoutState {
  try {
    const saved = window.sessionStorage.getItem(KEY);
    return saved ? { ...EMPTY, ...(JSON.parse(saved) as Partial<CheckoutState>) } : EMPTY;
  } catch {
    return EMPTY;
  }
}

function remember(state: CheckoutState): void {
  try {
    window.sessionStorage.setItem(KEY, JSON.stringify(state));
  } catch {
    // Storage disabled: the checkout then lasts as long as the page.
  }
}

export interface Checkout {
  state: CheckoutState;
  /** A Buy answered `held`. */
  held: (hold: Hold) => void;
  pay: () => Promise<void>;
  /** The countdown passed expiresAt (server time). */
  expired: () => void;
  join: (buyer: Buyer, sku: string) => Promise<void>;
}

/**
 * `offers`: the status's count of waitlist offers made in the sale; when it changes,
 * a waiting entry is read again (it may be this shopper's turn).
 */
export function useCheckout(
  offers: number | undefined,
  userId: string,
  onPaid: () => void = () => undefined,
): Checkout {
  const [state, setState] = useState<CheckoutState>(remembered);
  const stateRef = useRef(state);
  const update = useCallback((change: (current: CheckoutState) => CheckoutState) => {
    const next = change(stateRef.current);
    stateRef.current = next;
    remember(next);
    setState(next);
  }, []);

  const held = useCallback(
    (hold: Hold) => update((current) => ({ ...current, hold, phase: 'held', paymentRef: null, problem: null })),
    [update],
  );

  const pay = useCallback(async () => {
    const { hold, phase } = stateRef.current;
    if (!hold || phase !== 'held') return;
    update((current) => ({ ...current, phase: 'paying', problem: null }));
    const result = await confirmHold(hold, demoPaymentRef());
    if (result.kind === 'confirmed') onPaid();
    update((current) => {
      if (result.kind === 'confirmed') return { ...current, phase: 'confirmed', paymentRef: result.paymentRef };
      if (result.kind === 'expired') return { ...current, phase: 'expired' };
      if (result.kind === 'cancelled') return { ...current, phase: 'cancelled' };
      return { ...current, phase: 'held', problem: result.detail };
    });
  }, [update, onPaid]);

  const expired = useCallback(
    () => update((current) => (current.phase === 'held' ? { ...current, phase: 'expired' } : current)),
    [update],
  );

  const join = useCallback(
    async (buyer: Buyer, sku: string) => {
      update((current) => ({ ...current, joinProblem: null }));
      const result = await joinWaitlist(buyer, sku);
      update((current) => {
        if (result.kind === 'joined') return { ...current, entry: result.entry };
        if (result.kind === 'known') {
          // Joined from another tab: its place, without the token that follows it.
          return { ...current, entry: { sku, place: result.place, state: result.state, token: '' } };
        }
        return { ...current, joinProblem: result.detail };
      });
    },
    [update],
  );

  // An offer was made somewhere in the sale: is it ours?
  useEffect(() => {
    const { entry } = stateRef.current;
    if (offers === undefined || !entry || entry.state !== 'waiting' || !entry.token) return;
    let live = true;
    void readWaitlistEntry(entry, userId).then((read) => {
      if (!live || read.kind !== 'entry') return;
      update((current) => {
        if (!current.entry) return current;
        const next = { ...current, entry: { ...current.entry, place: read.place, state: read.state } };
        return read.hold ? { ...next, hold: read.hold, phase: 'held', paymentRef: null, problem: null } : next;
      });
    });
    return () => {
      live = false;
    };
  }, [offers, userId, update]);

  return { state, held, pay, expired, join };
}
