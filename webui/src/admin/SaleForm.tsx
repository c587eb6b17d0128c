import { useId, useState, type FormEvent } from 'react';
import { createSale, newIdempotencyKey, type AdminProblem } from '../lib/adminApi';
import type { SaleResource, SaleSpec } from '../lib/types';
import { Message } from '../shop/Message';
import { checkoutOf, describeWindow, NO_CHECKOUT, type CheckoutDraft } from './checkoutWindow';
import { fieldOf, keyOf } from './fieldOfProblem';
import { ProblemMessage } from './ProblemMessage';
import { describeQueue, instant, NO_WAITING_ROOM, queueOf, type WaitingRoomDraft } from './waitingRoom';
import { WaitingRoomFields } from './WaitingRoomFields';

interface ProductDraft {
  sku: string;
  name: string;
  price: string;
  currency: string;
  stock: string;
  perUserLimit: string;
}

const EMPTY_PRODUCT: ProductDraft = {
  sku: '',
  name: '',
  price: '',
  currency: 'EUR',
  stock: '',
  perUserLimit: '',
};
const MAX_PRODUCTS = 64;

/** A number typed as the server wants it; anything else is sent as typed, for the server to name. */
function whole(text: string): number | string {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : text;
}

/** "49", "49.9", "49.90" in the currency's major unit, as minor units (cents). */
function cents(text: string): number | string {
  const trimmed = text.trim().replace(',', '.');
  return /^\d+(\.\d{1,2})?$/.test(trimmed) ? Math.round(Number(trimmed) * 100) : text;
}

function specOf(
  products: ProductDraft[],
  perUserLimit: string,
  startsAt: string,
  endsAt: string,
  payWindow: CheckoutDraft,
  waitingRoom: WaitingRoomDraft,
) {
  // Values that are not numbers are sent as typed: the server's answer names the field.
  const spec: Record<string, unknown> = {
    products: products.map((product) => ({
      sku: product.sku.trim(),
      name: product.name.trim(),
      priceCents: cents(product.price),
      currency: product.currency.trim().toUpperCase(),
      stock: whole(product.stock),
      ...(product.perUserLimit.trim() ? { perUserLimit: whole(product.perUserLimit) } : {}),
    })),
    perUserLimit: whole(perUserLimit),
  };
  const starts = instant(startsAt);
  const ends = instant(endsAt);
  if (starts) spec.startsAt = starts;
  if (ends) spec.endsAt = ends;
  const checkout = checkoutOf(payWindow);
  if (checkout) spec.checkout = checkout;
  const queue = queueOf(waitingRoom);
  if (queue) spec.queue = queue;
  return spec as unknown as SaleSpec;
}

/** The next sale: its products, the per-shopper limit, when it starts and ends, its
 * payment window (empty: none, a purchase is final) and its waiting room (off: none). */
export function SaleForm({
  token,
  onMade,
  onRefused,
}: {
  token: string;
  onMade: (sale: SaleResource) => void;
  onRefused: (problem: AdminProblem) => void;
}) {
  const formId = useId();
  const [products, setProducts] = useState<ProductDraft[]>([{ ...EMPTY_PRODUCT }]);
  const [perUserLimit, setPerUserLimit] = useState('1');
  const [startsAt, setStartsAt] = useState('');
  const [endsAt, setEndsAt] = useState('');
  const [payWindow, setPayWindow] = useState<CheckoutDraft>(NO_CHECKOUT);
  const [waitingRoom, setWaitingRoom] = useState<WaitingRoomDraft>(NO_WAITING_ROOM);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [refusal, setRefusal] = useState<AdminProblem | null>(null);
  const [made, setMade] = useState<SaleResource | null>(null);
  const [busy, setBusy] = useState(false);

  const edit = (index: number, field: keyof ProductDraft, value: string) => {
    setProducts((drafts) => drafts.map((draft, at) => (at === index ? { ...draft, [field]: value } : draft)));
  };

  async function send(ifMatch: string | null) {
    setBusy(true);
    setErrors({});
    setRefusal(null);
    setMade(null);
    const answer = await createSale(
      token,
      specOf(products, perUserLimit, startsAt, endsAt, payWindow, waitingRoom),
      newIdempotencyKey(),
      ifMatch,
    );
    setBusy(false);
    if (answer.ok) {
      setMade(answer.value);
      onMade(answer.value);
      return;
    }
    const problem = answer.problem;
    onRefused(problem);
    const field = problem.status === 400 ? fieldOf(problem) : { kind: 'form' as const };
    if (field.kind === 'form') setRefusal(problem);
    else setErrors({ [keyOf(field)]: problem.detail });
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send(null);
  };

  const inProgress = refusal?.type === '/problems/sale-in-progress';
  const currentEtag = typeof refusal?.extensions.etag === 'string' ? refusal.extensions.etag : null;

  /** The props of an input whose refusal the server may name (`key`), with its message's id. */
  const described = (key: string) => {
    const error = errors[key];
    return {
      'aria-invalid': error !== undefined,
      'aria-describedby': error !== undefined ? `${formId}-${key}-error` : undefined,
    };
  };
  const fieldError = (key: string) =>
    errors[key] !== undefined ? (
      <p id={`${formId}-${key}-error`} className="field-error" data-testid={`error-${key}`}>
        {errors[key]}
      </p>
    ) : null;

  return (
    <section className="card" aria-labelledby={`${formId}-heading`}>
      <h2 id={`${formId}-heading`}>New sale</h2>
      <form className="form sale-form" onSubmit={submit} noValidate data-testid="sale-form">
        <fieldset className="sale-form__products">
          <legend>Products</legend>
          {errors.products !== undefined ? fieldError('products') : null}
          {products.map((product, index) => {
            const key = (field: string) => `products.${index}.${field}`;
            const id = (field: string) => `${formId}-${index}-${field}`;
            return (
              <fieldset key={index} className="product-row" data-testid={`product-row-${index}`}>
                <legend className="product-row__legend">Product {index + 1}</legend>
                <div className="product-row__fields">
                  <div className="field">
                    <label htmlFor={id('sku')}>SKU</label>
                    <input
                      id={id('sku')}
                      value={product.sku}
                      autoComplete="off"
                      spellCheck={false}
                      onChange={(event) => edit(index, 'sku', event.target.value)}
                      {...described(key('sku'))}
                    />
                    {fieldError(key('sku'))}
                  </div>
                  <div className="field field--wide">
                    <label htmlFor={id('name')}>Name</label>
                    <input
                      id={id('name')}
                      value={product.name}
                      onChange={(event) => edit(index, 'name', event.target.value)}
                      {...described(key('name'))}
                    />
                    {fieldError(key('name'))}
                  </div>
                  <div className="field">
                    <label htmlFor={id('price')}>Price</label>
                    <input
                      id={id('price')}
                      inputMode="decimal"
                      placeholder="49.00"
                      value={product.price}
                      onChange={(event) => edit(index, 'price', event.target.value)}
                      {...described(key('priceCents'))}
                    />
                    {fieldError(key('priceCents'))}
                  </div>
                  <div className="field field--narrow">
                    <label htmlFor={id('currency')}>Currency</label>
                    <input
                      id={id('currency')}
                      value={product.currency}
                      maxLength={3}
                      autoComplete="off"
                      onChange={(event) => edit(index, 'currency', event.target.value)}
                      {...described(key('currency'))}
                    />
                    {fieldError(key('currency'))}
                  </div>
                  <div className="field">
                    <label htmlFor={id('stock')}>Stock</label>
                    <input
                      id={id('stock')}
                      inputMode="numeric"
                      value={product.stock}
                      onChange={(event) => edit(index, 'stock', event.target.value)}
                      {...described(key('stock'))}
                    />
                    {fieldError(key('stock'))}
                  </div>
                  <div className="field">
                    <label htmlFor={id('perUserLimit')}>Per-user limit</label>
                    <input
                      id={id('perUserLimit')}
                      inputMode="numeric"
                      placeholder="the sale's"
                      value={product.perUserLimit}
                      onChange={(event) => edit(index, 'perUserLimit', event.target.value)}
                      {...described(key('perUserLimit'))}
                    />
                    {fieldError(key('perUserLimit'))}
                  </div>
                </div>
                {products.length > 1 ? (
                  <button
                    type="button"
                    className="button button--small"
                    onClick={() => setProducts((drafts) => drafts.filter((_, at) => at !== index))}
                  >
                    Remove product {index + 1}
                  </button>
                ) : null}
              </fieldset>
            );
          })}
          <button
            type="button"
            className="button button--small"
            disabled={products.length >= MAX_PRODUCTS}
            onClick={() => setProducts((drafts) => [...drafts, { ...EMPTY_PRODUCT }])}
          >
            Add a product
          </button>
        </fieldset>

        <div className="sale-form__terms">
          <div className="field">
            <label htmlFor={`${formId}-limit`}>Per-user limit (the sale)</label>
            <input
              id={`${formId}-limit`}
              inputMode="numeric"
              value={perUserLimit}
              onChange={(event) => setPerUserLimit(event.target.value)}
              {...described('perUserLimit')}
            />
            {fieldError('perUserLimit')}
          </div>
          <div className="field">
            <label htmlFor={`${formId}-starts`}>Starts at</label>
            <input
              id={`${formId}-starts`}
              type="datetime-local"
              value={startsAt}
              onChange={(event) => setStartsAt(event.target.value)}
              {...described('startsAt')}
            />
            {fieldError('startsAt') ?? <p className="hint">Empty: at once.</p>}
          </div>
          <div className="field">
            <label htmlFor={`${formId}-ends`}>Ends at</label>
            <input
              id={`${formId}-ends`}
              type="datetime-local"
              value={endsAt}
              onChange={(event) => setEndsAt(event.target.value)}
              {...described('endsAt')}
            />
            {fieldError('endsAt') ?? <p className="hint">Empty: never (end it by hand).</p>}
          </div>
        </div>

        <fieldset className="sale-form__checkout" data-testid="checkout-fields">
          <legend>Checkout</legend>
          <div className="field">
            <label htmlFor={`${formId}-hold`}>Payment window</label>
            <input
              id={`${formId}-hold`}
              inputMode="decimal"
              value={payWindow.hold}
              onChange={(event) => setPayWindow((draft) => ({ ...draft, hold: event.target.value }))}
              {...described('holdSeconds')}
            />
            {fieldError('holdSeconds') ??
              fieldError('checkout') ?? (
                <p className="hint">Empty: no hold, a purchase is final. Else a winner has this long to pay.</p>
              )}
          </div>
          <div className="field">
            <label htmlFor={`${formId}-extension`}>Extension</label>
            <input
              id={`${formId}-extension`}
              inputMode="decimal"
              value={payWindow.extension}
              onChange={(event) => setPayWindow((draft) => ({ ...draft, extension: event.target.value }))}
              {...described('extendSeconds')}
            />
            {fieldError('extendSeconds') ?? <p className="hint">Once, when paying starts. Empty: none.</p>}
          </div>
          <div className="field field--narrow">
            <label htmlFor={`${formId}-unit`}>Unit</label>
            <select
              id={`${formId}-unit`}
              value={payWindow.unit}
              onChange={(event) =>
                setPayWindow((draft) => ({ ...draft, unit: event.target.value === 'seconds' ? 'seconds' : 'minutes' }))
              }
            >
              <option value="minutes">minutes</option>
              <option value="seconds">seconds</option>
            </select>
          </div>
        </fieldset>

        <WaitingRoomFields
          formId={formId}
          draft={waitingRoom}
          onChange={setWaitingRoom}
          errors={{ described, fieldError }}
        />

        <div className="form__row">
          <button type="submit" className="button button--primary" disabled={busy} aria-busy={busy}>
            {busy ? 'Sending…' : startsAt ? 'Schedule the sale' : 'Start the sale'}
          </button>
        </div>
      </form>
      <div aria-live="polite">
        {made ? (
          <div className="outcome">
            <Message tone="success" title={`Sale ${made.saleId} made`} testId="sale-made">
              <p>
                When made it was {made.state}: {made.total} items over {made.products.length} product
                {made.products.length === 1 ? '' : 's'}.
              </p>
              <p data-testid="made-window">Payment window: {describeWindow(made.checkout)}.</p>
              <p data-testid="made-queue">Waiting room: {describeQueue(made.queue)}.</p>
            </Message>
          </div>
        ) : null}
      </div>
      {Object.keys(errors).length > 0 ? (
        <p className="visually-hidden" role="alert">
          {Object.values(errors).join(' ')}
        </p>
      ) : null}
      {refusal ? (
        <ProblemMessage problem={refusal} testId="sale-refused">
          {inProgress && currentEtag ? (
            <div className="form__row message__actions">
              <button
                type="button"
                className="button"
                disabled={busy}
                onClick={() => void send(currentEtag)}
                data-testid="replace-sale"
              >
                Replace it
              </button>
            </div>
          ) : null}
        </ProblemMessage>
      ) : null}
    </section>
  );
}
