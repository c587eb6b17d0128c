import { type FormEvent, useId, useRef, useState } from 'react';
import { lookupOrder } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { rememberedUserId } from '../lib/storage';
import type { LookupResult } from '../lib/types';
import { userIdProblem } from '../lib/validation';
import { Message } from './Message';
import { UserIdInput } from './UserIdInput';

/** `lastBuyer`: the id the Buy form last used, copied into the field when it changes. */
export function OrderLookup({ lastBuyer = null }: { lastBuyer?: string | null }) {
  const inputId = useId();
  const [userId, setUserId] = useState(rememberedUserId);
  const [seenBuyer, setSeenBuyer] = useState(lastBuyer);
  if (lastBuyer !== seenBuyer) {
    setSeenBuyer(lastBuyer);
    if (lastBuyer) setUserId(lastBuyer);
  }
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<LookupResult | null>(null);
  const inFlightRef = useRef(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (inFlightRef.current) return;
    const problem = userIdProblem(userId);
    if (problem) {
      setResult({ kind: 'invalid', detail: problem });
      return;
    }
    inFlightRef.current = true;
    setBusy(true);
    try {
      setResult(await lookupOrder(userId));
    } finally {
      inFlightRef.current = false;
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="lookup-heading">
      <h2 id="lookup-heading">My order</h2>
      <form className="form" onSubmit={submit} noValidate>
        <label htmlFor={inputId}>User id to look up</label>
        <div className="form__row">
          <UserIdInput
            id={inputId}
            name="lookupUserId"
            value={userId}
            onValueChange={setUserId}
            data-testid="lookup-user-id"
          />
          <button
            type="submit"
            className="button"
            disabled={busy}
            aria-busy={busy}
            data-testid="lookup-button"
          >
            {busy ? 'Looking…' : 'Look up'}
          </button>
        </div>
      </form>
      <div role="status" aria-live="polite" className="outcome" data-testid="lookup-result">
        {result ? <LookupMessage result={result} /> : null}
      </div>
    </section>
  );
}

function LookupMessage({ result }: { result: LookupResult }) {
  switch (result.kind) {
    case 'found':
      return (
        <Message tone="success" title="Order found" kind="found">
          <dl className="order">
            <dt>Order</dt>
            <dd className="mono">{result.order.orderId}</dd>
            <dt>Place in line</dt>
            <dd>#{result.order.position}</dd>
            <dt>Bought</dt>
            <dd>{formatDateTime(result.order.purchasedAt)}</dd>
          </dl>
        </Message>
      );
    case 'none':
      return (
        <Message tone="info" title="No order yet" kind="none">
          <p>There is no purchase for “{result.userId}” in this sale.</p>
        </Message>
      );
    case 'invalid':
      return (
        <Message tone="error" title="Check the user id" kind="invalid">
          <p>{result.detail}</p>
        </Message>
      );
    case 'error':
      return (
        <Message tone="error" title="Could not look it up" kind="error">
          <p>{result.detail}</p>
        </Message>
      );
  }
}
