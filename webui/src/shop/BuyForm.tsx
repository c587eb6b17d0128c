import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { type Buyer, lookupOrder, purchase } from '../lib/api';
import type { JoinResult } from '../lib/queueApi';
import { rememberUserId, rememberedUserId } from '../lib/storage';
import type { Hold, PurchaseOutcome } from '../lib/types';
import { useNow } from '../lib/useNow';
import { userIdProblem } from '../lib/validation';
import { Message } from './Message';
import { outcomeMessage } from './outcomeMessage';
import { QueueProof } from './QueueProof';
import { ShopperStatus } from './ShopperStatus';
import { NO_CHOICE, type ProductChoice } from './useProductChoice';
import type { ShopperIdentity } from './useShopperIdentity';
import { UserIdInput } from './UserIdInput';

/** After a 202 (in flight at an allocator restart), how often and how long to look the order up. */
export const PENDING_CHECK_MS = 1000;
export const PENDING_CHECKS = 15;

const sleep = (ms: number) => new Promise((resolve) => window.setTimeout(resolve, ms));
const OPEN: ShopperIdentity = { kind: 'open' };
const ignoreRejection = () => undefined;
const ignoreHold = () => undefined;

/** A sale with a queue: what Buy does for this shopper (useQueue says). */
export interface QueueGate {
  /** The admitted ticket a purchase sends; null: not this shopper's turn (Buy is off). */
  ticket: string | null;
  /** Why Buy is off, when it is ("Buy opens at your turn in the queue."). */
  why: string;
  /** No ticket yet: Buy is replaced by Join the queue. */
  join: QueueJoin | null;
}

export interface QueueJoin {
  /** False before the queue opens. */
  open: boolean;
  busy: boolean;
  /** Joining needs the ALTCHA check solved first. */
  proofOfWork: boolean;
  send: (buyer: Buyer, proof: string | null) => Promise<JoinResult>;
}

/**
 * `identity`: open mode (the default) asks for a user id; jwt mode buys as the
 * signed-in shopper, and not at all without one. `onRejected`: the server answered
 * 401 to the token. `choice`: the product bought (and the catalogue that names it in
 * the messages); without it, the sale's one product, as older servers sell.
 */
export function BuyForm({
  onAnswered,
  identity = OPEN,
  onRejected = ignoreRejection,
  pendingCheckMs = PENDING_CHECK_MS,
  choice = NO_CHOICE,
  paused = false,
  onHeld = ignoreHold,
  onUserIdChange = ignoreHold,
  onWaitlist = false,
  queue = null,
}: {
  onAnswered: (userId: string) => void;
  identity?: ShopperIdentity;
  onRejected?: (token: string, detail: string) => void;
  pendingCheckMs?: number;
  choice?: ProductChoice;
  /** The organiser paused the sale: Buy is off until the status says it resumed. */
  paused?: boolean;
  /** A sale with checkout: the unit won is held for the buyer until paid (the checkout below). */
  onHeld?: (hold: Hold) => void;
  /** The user id as typed (open mode): the checkout's waitlist joins with it. */
  onUserIdChange?: (userId: string) => void;
  /** The shopper joined the waitlist: the checkout tells the rest, not a sold-out message. */
  onWaitlist?: boolean;
  /** The sale has a queue: Join it first, then Buy at your turn with the ticket. */
  queue?: QueueGate | null;
}) {
  const inputId = useId();
  const hintId = useId();
  const shopperId = useId();
  const asksUserId = identity.kind === 'open';
  const [userId, setUserId] = useState(rememberedUserId);
  const [busy, setBusy] = useState<'buying' | 'checking' | null>(null);
  const [outcome, setOutcome] = useState<PurchaseOutcome | null>(null);
  // The server's wait is per user id: another id typed in is not held back.
  const [retry, setRetry] = useState<{ userId: string; at: number } | null>(null);
  // The ref, not the state, guards against a double submit: two clicks in the same
  // frame both see the old state, but only the first finds the ref unset.
  const inFlightRef = useRef(false);
  const mountedRef = useRef(true);
  const inputRef = useRef<HTMLInputElement>(null);
  const retryTimerRef = useRef<number | undefined>(undefined);
  const now = useNow(250, retry !== null);
  const join = queue?.join ?? null;
  const joinMode = join !== null;
  // The ALTCHA solution for the join; a refused one is solved again (a new widget).
  const [proof, setProof] = useState<string | null>(null);
  const [proofRound, setProofRound] = useState(0);

  useEffect(() => {
    mountedRef.current = true;
    return () => {
      mountedRef.current = false;
      window.clearTimeout(retryTimerRef.current);
    };
  }, []);

  // Who the server's wait applies to: the id typed, or the signed-in shopper.
  const buyerName = identity.kind === 'signed_in' ? identity.name : asksUserId ? userId : null;
  const waitLeftS =
    retry === null || retry.userId !== buyerName ? 0 : Math.max(0, Math.ceil((retry.at - now) / 1000));

  async function settlePending(buyer: Buyer, name: string): Promise<PurchaseOutcome> {
    setBusy('checking');
    for (let check = 0; check < PENDING_CHECKS && mountedRef.current; check += 1) {
      await sleep(pendingCheckMs);
      const result = await lookupOrder(buyer);
      if (result.kind === 'found') {
        // The order of the product asked for, if the buyer holds several.
        const asked = result.orders.find((order) => order.sku === choice.sku);
        return { kind: 'confirmed', order: asked ?? result.order };
      }
      if (result.kind === 'unauthorized') return result;
    }
    const whose = name ? `for "${name}" ` : '';
    return {
      kind: 'error',
      detail: `The outcome ${whose}is not known yet. Look it up under "My order" in a minute.`,
    };
  }

  async function joinQueue(buyer: Buyer) {
    if (!join) return;
    inFlightRef.current = true;
    setOutcome(null);
    try {
      const answer = await join.send(buyer, join.proofOfWork ? proof : null);
      if (!mountedRef.current) return;
      if (answer.kind === 'unauthorized' && 'token' in buyer) onRejected(buyer.token, answer.detail);
      if (answer.kind === 'refused' && answer.refusal.startsWith('proof')) setProofRound((round) => round + 1);
    } finally {
      inFlightRef.current = false;
    }
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (inFlightRef.current || waitLeftS > 0 || buyerName === null) return;
    if (!joinMode && (!choice.ready || (queue && queue.ticket === null))) return;
    let buyer: Buyer;
    if (identity.kind === 'signed_in') {
      buyer = { token: identity.token };
    } else {
      const problem = userIdProblem(userId);
      if (problem) {
        setOutcome({ kind: 'invalid', detail: problem });
        inputRef.current?.focus();
        return;
      }
      buyer = { userId };
      rememberUserId(userId);
    }
    if (joinMode) {
      await joinQueue(buyer);
      return;
    }
    inFlightRef.current = true;
    setBusy('buying');
    setOutcome(null);
    try {
      let answer = await purchase(buyer, choice.sku, queue?.ticket ?? null);
      if (!mountedRef.current) return;
      if (answer.kind === 'pending') {
        setOutcome(answer);
        answer = await settlePending(buyer, buyerName);
        if (!mountedRef.current) return;
      }
      if (answer.kind === 'unauthorized' && 'token' in buyer) {
        // Said once, where the sign-in is shown; Buy stays off until a new token comes.
        onRejected(buyer.token, answer.detail);
        setOutcome(null);
        return;
      }
      setOutcome(answer);
      if (answer.kind === 'held') onHeld(answer.hold);
      if (answer.kind === 'rate_limited' || answer.kind === 'unavailable') {
        const waitMs = answer.retryAfterS * 1000;
        setRetry({ userId: buyerName, at: Date.now() + waitMs });
        window.clearTimeout(retryTimerRef.current);
        retryTimerRef.current = window.setTimeout(() => setRetry(null), waitMs);
      }
      const bought = answer.kind === 'held' ? answer.hold.order : answer.kind === 'confirmed' ? answer.order : null;
      onAnswered(bought?.userId || buyerName);
    } finally {
      inFlightRef.current = false;
      if (mountedRef.current) setBusy(null);
    }
  }

  // A held unit is the checkout's to tell (its countdown, payment, expiry): a message here
  // would go stale when the hold ends.
  const superseded = outcome?.kind === 'held' || (onWaitlist && outcome?.kind === 'sold_out');
  const message = outcome && !superseded ? outcomeMessage(outcome, choice) : null;
  const waitsForTurn = queue !== null && !joinMode && queue.ticket === null;
  const joinBlocked = join !== null && (!join.open || join.busy || (join.proofOfWork && proof === null));
  const label = join
    ? join.busy
      ? 'Joining…'
      : 'Join the queue'
    : busy === 'buying'
      ? 'Buying…'
      : busy === 'checking'
        ? 'Checking…'
        : paused
          ? 'Paused'
          : waitLeftS > 0
            ? `Try again in ${waitLeftS} s`
            : 'Buy now';

  return (
    <section className="card" aria-labelledby="buy-heading">
      <h2 id="buy-heading">Buy</h2>
      <form className="form" onSubmit={submit} noValidate>
        {asksUserId ? (
          <label htmlFor={inputId}>Your user id</label>
        ) : (
          <div aria-live="polite">
            <ShopperStatus identity={identity} id={shopperId} />
          </div>
        )}
        <div className="form__row">
          {asksUserId ? (
            <UserIdInput
              ref={inputRef}
              id={inputId}
              name="userId"
              value={userId}
              onValueChange={(value) => {
                setUserId(value);
                onUserIdChange(value);
              }}
              aria-describedby={hintId}
              aria-invalid={outcome?.kind === 'invalid'}
              data-testid="buy-user-id"
            />
          ) : null}
          <button
            type="submit"
            className="button button--primary"
            disabled={
              joinMode
                ? joinBlocked || buyerName === null
                : paused || busy !== null || waitLeftS > 0 || buyerName === null || !choice.ready || waitsForTurn
            }
            aria-busy={busy !== null || join?.busy === true}
            aria-describedby={asksUserId ? hintId : `${shopperId} ${hintId}`}
            data-testid="buy-button"
          >
            {label}
          </button>
        </div>
        {join?.open && join.proofOfWork ? <QueueProof key={proofRound} onPayload={setProof} /> : null}
        <p id={hintId} className="hint" data-testid="buy-hint">
          {join ? 'Join the queue first: Buy opens at your turn. ' : ''}
          {waitsForTurn ? `${queue.why} ` : ''}
          {choiceHint(choice)}
          {asksUserId ? 'One per shopper. Up to 64 characters, no slashes.' : 'One per shopper.'}
        </p>
      </form>
      <div role="status" aria-live="polite" className="outcome">
        {message && outcome ? (
          <Message tone={message.tone} title={message.title} testId="purchase-outcome" kind={outcome.kind}>
            <p>{message.body}</p>
          </Message>
        ) : null}
      </div>
    </section>
  );
}

/** What Buy will buy when there are several products, or why it waits. */
function choiceHint(choice: ProductChoice): string {
  if (!choice.several) return '';
  if (choice.chosen === null) return 'Choose one above first. ';
  if (choice.chosenSoldOut) return `${choice.chosen.name} has sold out: choose another above. `;
  return `You are buying ${choice.chosen.name}. `;
}
