import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch } from '../test/fetchMock';
import { BuyForm } from './BuyForm';

const ORDER = {
  orderId: 'order-1',
  userId: 'alice',
  position: 3,
  purchasedAt: '2026-11-24T15:00:01.000Z',
  saleId: 1,
};

afterEach(() => vi.unstubAllGlobals());

async function buyAs(userId: string) {
  const user = userEvent.setup();
  await user.clear(screen.getByLabelText('Your user id'));
  await user.type(screen.getByLabelText('Your user id'), userId);
  await user.click(screen.getByRole('button', { name: 'Buy now' }));
  return user;
}

describe('BuyForm', () => {
  it('shows the order id and place in line when confirmed', async () => {
    mockFetch(() => json({ outcome: 'confirmed', ...ORDER }, 201));
    const onAnswered = vi.fn();
    render(<BuyForm onAnswered={onAnswered} />);
    await buyAs('alice');
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveTextContent('Order confirmed!');
    expect(outcome).toHaveTextContent('order-1');
    expect(outcome).toHaveTextContent('number 3 in line');
    expect(outcome).toHaveAttribute('data-kind', 'confirmed');
    expect(onAnswered).toHaveBeenCalledWith('alice');
  });

  it('cannot submit twice while a purchase is in flight', async () => {
    let answer: (response: Response) => void = () => undefined;
    const calls = mockFetch(() => new Promise<Response>((resolve) => (answer = resolve)));
    render(<BuyForm onAnswered={() => undefined} />);
    const user = await buyAs('alice');
    const button = screen.getByTestId('buy-button');
    expect(button).toBeDisabled();
    expect(button).toHaveTextContent('Buying…');
    await user.click(button);
    await user.keyboard('{Enter}');
    expect(calls).toHaveLength(1);
    answer(json({ outcome: 'confirmed', ...ORDER }, 201));
    await screen.findByText('Order confirmed!');
    expect(button).toBeEnabled();
  });

  it('submits with the Enter key', async () => {
    const calls = mockFetch(() => json({ outcome: 'sold_out', title: 'Sold out' }, 410));
    render(<BuyForm onAnswered={() => undefined} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Your user id'), 'bob{Enter}');
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent('Sold out');
    expect(calls).toHaveLength(1);
  });

  it('says "already bought" with the existing order', async () => {
    mockFetch(() => json({ outcome: 'already_purchased', ...ORDER, title: 'Already purchased' }, 409));
    render(<BuyForm onAnswered={() => undefined} />);
    await buyAs('alice');
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveTextContent('You already bought this item');
    expect(outcome).toHaveTextContent('order-1');
  });

  it('tells the wait when rate limited and holds the button until then', async () => {
    mockFetch(() => json({ outcome: 'rate_limited', title: 'Too many' }, 429, { 'Retry-After': '30' }));
    render(<BuyForm onAnswered={() => undefined} />);
    await buyAs('alice');
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent('Please wait 30 seconds');
    const button = screen.getByTestId('buy-button');
    expect(button).toBeDisabled();
    await waitFor(() => expect(button).toHaveTextContent(/Try again in (29|30) s/));

    // The wait belongs to that user id; someone else may buy at once.
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Your user id'), '2');
    expect(button).toBeEnabled();
    expect(button).toHaveTextContent('Buy now');
  });

  it('asks to try again later when the shop is busy', async () => {
    mockFetch(() => json({ outcome: 'unavailable', title: 'Busy' }, 503, { 'Retry-After': '2' }));
    render(<BuyForm onAnswered={() => undefined} />);
    await buyAs('alice');
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent('try again in 2 seconds');
  });

  it.each([
    [403, { outcome: 'not_started', title: 'Not yet', startsAt: '2030-01-01T00:00:00Z' }, 'has not started'],
    [403, { outcome: 'ended', title: 'Over' }, 'has ended'],
    [400, { title: 'Invalid', detail: 'userId is too long' }, 'userId is too long'],
  ])('has a message for HTTP %i', async (status, body, words) => {
    mockFetch(() => json(body, status));
    render(<BuyForm onAnswered={() => undefined} />);
    await buyAs('alice');
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent(words);
  });

  it('catches an invalid id before sending it', async () => {
    const calls = mockFetch(() => json({}, 500));
    render(<BuyForm onAnswered={() => undefined} />);
    await buyAs('a/b');
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveAttribute('data-kind', 'invalid');
    expect(outcome).toHaveTextContent('Check your user id');
    expect(screen.getByLabelText('Your user id')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText('Your user id')).toHaveFocus(); // back to the field to fix it
    expect(calls).toHaveLength(0);
  });

  it('follows a pending purchase to its outcome', async () => {
    let lookups = 0;
    mockFetch((url) => {
      if (url.endsWith('/purchase')) {
        return json({ outcome: 'pending', title: 'Pending', location: '/flash-sale/purchase/alice' }, 202);
      }
      lookups += 1;
      return lookups < 2 ? json({ title: 'Not found' }, 404) : json(ORDER);
    });
    render(<BuyForm onAnswered={() => undefined} pendingCheckMs={5} />);
    await buyAs('alice');
    await waitFor(() =>
      expect(screen.getByTestId('purchase-outcome')).toHaveAttribute('data-kind', 'confirmed'),
    );
    expect(lookups).toBe(2);
  });

  it('explains a network failure', async () => {
    mockFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    render(<BuyForm onAnswered={() => undefined} />);
    await buyAs('alice');
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent('could not be reached');
  });
});

describe('BuyForm while the organiser has paused the sale', () => {
  it('holds Buy, and says so when a purchase was refused as paused', async () => {
    mockFetch(() =>
      json(
        {
          type: '/problems/sale-paused',
          title: 'Sale paused',
          status: 503,
          detail: 'the sale is paused; nothing was bought',
          outcome: 'paused',
        },
        503,
        { 'Retry-After': '5' },
      ),
    );
    const { rerender } = render(<BuyForm onAnswered={() => {}} paused />);
    expect(screen.getByTestId('buy-button')).toBeDisabled();
    expect(screen.getByTestId('buy-button')).toHaveTextContent('Paused');

    // Paused between the status and the click: the answer says it.
    rerender(<BuyForm onAnswered={() => {}} />);
    await buyAs('alice');
    expect(await screen.findByTestId('purchase-outcome')).toHaveAttribute('data-kind', 'paused');
    expect(screen.getByTestId('purchase-outcome')).toHaveTextContent('paused by the organiser');
  });
});
