import type { Dispatch, ReactNode, SetStateAction } from 'react';
import type { WaitingRoomDraft } from './waitingRoom';

/** The props of an input whose refusal the server may name, and its message. */
export interface FieldErrors {
  described: (key: string) => { 'aria-invalid': boolean; 'aria-describedby': string | undefined };
  fieldError: (key: string) => ReactNode;
}

/**
 * The new sale's optional waiting room: off by default; on, the pre-queue's opening,
 * the shuffle at the start (on by default), the admission rate (empty: all at the start),
 * how long an admitted shopper may buy, and proof of work to join.
 */
export function WaitingRoomFields({
  formId,
  draft,
  onChange,
  errors,
}: {
  formId: string;
  draft: WaitingRoomDraft;
  onChange: Dispatch<SetStateAction<WaitingRoomDraft>>;
  errors: FieldErrors;
}) {
  const id = (field: string) => `${formId}-queue-${field}`;
  const set = <K extends keyof WaitingRoomDraft>(field: K, value: WaitingRoomDraft[K]) =>
    onChange((current) => ({ ...current, [field]: value }));
  const { described, fieldError } = errors;

  return (
    <fieldset className="sale-form__queue" data-testid="queue-fields">
      <legend>Waiting room</legend>
      <div className="field field--check field--full">
        <label htmlFor={id('on')}>
          <input
            id={id('on')}
            type="checkbox"
            checked={draft.on}
            onChange={(event) => set('on', event.target.checked)}
            {...described('queue')}
          />
          Queue shoppers before the start
        </label>
        {fieldError('queue') ?? (
          <p className="hint">
            Needs a start. Shoppers join before it and are let in to buy in turn, so the fastest
            click gains nothing.
          </p>
        )}
      </div>
      {draft.on ? (
        <>
          <div className="field">
            <label htmlFor={id('opens')}>Queue opens at</label>
            <input
              id={id('opens')}
              type="datetime-local"
              value={draft.opensAt}
              onChange={(event) => set('opensAt', event.target.value)}
              {...described('opensAt')}
            />
            {fieldError('opensAt') ?? <p className="hint">Empty: at once. Before the start.</p>}
          </div>
          <div className="field">
            <label htmlFor={id('rate')}>Admitted a minute</label>
            <input
              id={id('rate')}
              inputMode="numeric"
              value={draft.admitPerMinute}
              onChange={(event) => set('admitPerMinute', event.target.value)}
              {...described('admitPerMinute')}
            />
            {fieldError('admitPerMinute') ?? <p className="hint">Empty: everyone at the start.</p>}
          </div>
          <div className="field">
            <label htmlFor={id('admitted')}>Time to buy (seconds)</label>
            <input
              id={id('admitted')}
              inputMode="numeric"
              value={draft.admittedSeconds}
              onChange={(event) => set('admittedSeconds', event.target.value)}
              {...described('admittedSeconds')}
            />
            {fieldError('admittedSeconds') ?? <p className="hint">From a shopper&apos;s turn.</p>}
          </div>
          <div className="field field--check">
            <label htmlFor={id('shuffle')}>
              <input
                id={id('shuffle')}
                type="checkbox"
                checked={draft.shuffle}
                onChange={(event) => set('shuffle', event.target.checked)}
                {...described('shuffle')}
              />
              Shuffle at the start
            </label>
            {fieldError('shuffle') ?? <p className="hint">Off: those who joined early go first.</p>}
          </div>
          <div className="field field--check">
            <label htmlFor={id('pow')}>
              <input
                id={id('pow')}
                type="checkbox"
                checked={draft.proofOfWork}
                onChange={(event) => set('proofOfWork', event.target.checked)}
                {...described('proofOfWork')}
              />
              Proof of work to join
            </label>
            {fieldError('proofOfWork') ?? (
              <p className="hint">A few seconds of the shopper&apos;s device (ALTCHA): a cost for bots, not bot detection.</p>
            )}
          </div>
        </>
      ) : null}
    </fieldset>
  );
}
