import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { QueueStatus, QueueTicket } from '../lib/types';
import { installFakeEventSource, latest } from '../test/fakeEventSource';
import { type Call, header, json, mockFetch, OPEN_AUTH, OPEN_STATUS, problem } from '../test/fetchMock';
import { tokenFor } from '../test/tokens';
import { Shop } from './Shop';
import { ticketKey } from './useQueue';

// The widget's module (a custom element, its styles and workers) is not for happy-dom:
// the tests play the widget's events on the element.
vi.mock('../lib/altchaWidget', () => ({}));

const TICKET = '1.17.1795532400.YWxpY2U.c2lnbmF0dXJl';
// This browser's clock is 1 hour behind the server's: countdowns must use the server's.
const SKEW_MS = 3_600_000;
const serverIn = (ms: number) => new Date(Date.now() + SKEW_MS + ms).toISOString();

const QUEUE: QueueStatus = {
  state: 'prequeue',
  opensAt: null,
  shuffle: true,
  length: 1,
  serving: 0,
  waiting: 1,
  admitPerMinute: 400,
  admittedSeconds: 120,
  proofOfWork: false,
  estimatedWaitSeconds: 0,
};

function status(queue: Partial<QueueStatus>, sale: Record<string, unknown> = {}) {
  const upcoming = (queue.state ?? 'prequeue') === 'prequeue';
  return {
    ...OPEN_STATUS,
    auth: OPEN_AUTH,
    state: upcoming ? 'upcoming' : 'open',
    startsAt: serverIn(upcoming ? 90_000 : -1000),
    queue: { ...QUEUE, ...queue },
    serverTime: serverIn(0),
    ...sale,
  };
}

function ticket(fields: Partial<QueueTicket>): QueueTicket {
  return {
    ticket: TICKET,
    saleId: 1,
    number: 17,
    userId: 'alice',
    state: 'prequeue',
    place: null,
    ahead: null,
    serving: 0,
    estimatedWaitSeconds: null,
    admittedUntil: null,
    joinedAt: serverIn(-60_000),
    ...fields,
  };
}

const queueMessage = () => screen.getByTestId('queue-message');
const ticketReads = (calls: Call[]) => calls.filter((call) => call.url.endsWith(`/queue/${TICKET}`));
const joins = (calls: Call[]) => calls.filter((call) => call.url.endsWith('/queue'));

async function typeAlice() {
  const user = userEvent.setup();
  await user.type(await screen.findByTestId('buy-user-id'), 'alice');
  return user;
}

beforeEach(() => {
  // A turn's first read is spread over a second at random: at once, here.
  vi.spyOn(Math, 'random').mockReturnValue(0);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('The waiting room', () => {
  it('replaces Buy by Join the queue before the start, and keeps the ticket for the person', async () => {
    const calls = mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({}));
      if (url.endsWith('/queue')) return json(ticket({}), 201);
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    expect(await screen.findByTestId('countdown')).toBeInTheDocument();
    expect(await screen.findByTestId('queue-message')).toHaveTextContent('Join the queue to buy');
    expect(queueMessage()).toHaveTextContent('a place drawn at random at the start: joining early gains nothing');
    const button = screen.getByTestId('buy-button');
    expect(button).toHaveTextContent('Join the queue');
    // Joining needs the person, as buying does.
    const user = userEvent.setup();
    await user.click(button);
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent('Check your user id');
    expect(joins(calls)).toHaveLength(0);

    await user.type(screen.getByTestId('buy-user-id'), 'alice');
    await user.click(button);
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'prequeue'));
    expect(queueMessage()).toHaveTextContent('You are in the queue. Your place is drawn at the start.');
    expect(JSON.parse(String(joins(calls)[0]?.init?.body))).toEqual({ userId: 'alice' });
    // Buy waits for the turn; the ticket is the person's, in every tab of theirs.
    expect(button).toHaveTextContent('Buy now');
    expect(button).toBeDisabled();
    expect(screen.getByTestId('buy-hint')).toHaveTextContent('Buy opens at your turn in the queue.');
    expect(JSON.parse(window.localStorage.getItem(ticketKey(1, 'alice')) ?? '{}')).toMatchObject({ ticket: TICKET });
  });

  it('shows a second tab of the same person the same ticket, without joining again', async () => {
    window.localStorage.setItem('flashsale.userId', 'alice');
    window.localStorage.setItem(ticketKey(1, 'alice'), JSON.stringify(ticket({})));
    const calls = mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({}));
      if (url.endsWith(`/queue/${TICKET}`)) return json(ticket({}));
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'prequeue'));
    expect(joins(calls)).toHaveLength(0);
    // Read once on opening: the ticket may have moved while the page was closed.
    await waitFor(() => expect(ticketReads(calls)).toHaveLength(1));
  });

  it('takes the ticket another tab joined with (the storage event)', async () => {
    window.localStorage.setItem('flashsale.userId', 'alice');
    mockFetch((url) => (url.endsWith('/status') ? json(status({})) : json({}, 404)));
    render(<Shop pollMs={60_000} />);
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'join'));
    act(() => {
      const key = ticketKey(1, 'alice');
      const value = JSON.stringify(ticket({}));
      window.localStorage.setItem(key, value);
      window.dispatchEvent(new StorageEvent('storage', { key, newValue: value }));
    });
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'prequeue'));
  });

  it('reads the place once at the start, follows now serving on the stream, and buys at its turn with the ticket', async () => {
    const sources = installFakeEventSource();
    window.localStorage.setItem('flashsale.userId', 'alice');
    window.localStorage.setItem(ticketKey(1, 'alice'), JSON.stringify(ticket({})));
    let read = ticket({});
    const calls = mockFetch((url) => {
      if (url.endsWith(`/queue/${TICKET}`)) return json(read);
      if (url.endsWith('/purchase')) {
        read = ticket({ state: 'used', place: 1505 });
        return json({ outcome: 'confirmed', orderId: 'o-1', userId: 'alice', position: 7, saleId: 1, sku: 'aurora-anc' }, 201);
      }
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    act(() => latest(sources).pushStatus(status({})));
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'prequeue'));
    await waitFor(() => expect(ticketReads(calls)).toHaveLength(1));

    // The start: the places are drawn, and the page reads its own once.
    read = ticket({ state: 'waiting', place: 1505, ahead: 1204, serving: 300 });
    // 40 a minute: the page's own estimate between pushes moves a place in 1.5 s.
    const admitting = { state: 'admitting' as const, length: 2000, admitPerMinute: 40 };
    act(() => latest(sources).pushStatus(status({ ...admitting, serving: 300, waiting: 1700 })));
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'waiting'));
    expect(queueMessage()).toHaveTextContent(`You are in the queue: ${(1204).toLocaleString()} ahead of you, about 30 minutes`);
    expect(ticketReads(calls)).toHaveLength(2);

    // Now serving moves on the stream; the ticket is not read for that.
    act(() => latest(sources).pushStatus(status({ ...admitting, serving: 1000, waiting: 1000 })));
    await waitFor(() => expect(queueMessage()).toHaveTextContent('504 ahead of you, about 13 minutes'));
    expect(ticketReads(calls)).toHaveLength(2);
    expect(screen.getByTestId('buy-button')).toBeDisabled();

    // Serving reaches the place: the page reads its admission and counts it down.
    read = ticket({ state: 'admitted', place: 1505, ahead: 0, serving: 1505, admittedUntil: serverIn(120_000) });
    act(() => latest(sources).pushStatus(status({ ...admitting, serving: 1505, waiting: 495 })));
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'turn'));
    expect(queueMessage()).toHaveTextContent(/Your turn: buy within (2:00|1:59)/);

    const buy = screen.getByTestId('buy-button');
    await waitFor(() => expect(buy).toBeEnabled());
    await userEvent.setup().click(buy);
    expect(await screen.findByTestId('purchase-outcome')).toHaveAttribute('data-kind', 'confirmed');
    const purchase = calls.find((call) => call.url.endsWith('/purchase'));
    expect(header(purchase, 'Flash-Sale-Ticket')).toBe(TICKET);
    // The purchase used the turn.
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'used'));
    expect(buy).toBeDisabled();
  });

  it('moves the place on at the rate between pushes, and reads the ticket when the estimate reaches it', async () => {
    const sources = installFakeEventSource();
    window.localStorage.setItem('flashsale.userId', 'alice');
    const waiting = ticket({ state: 'waiting', place: 304, ahead: 3, serving: 300 });
    window.localStorage.setItem(ticketKey(1, 'alice'), JSON.stringify(waiting));
    let admitted = false;
    const calls = mockFetch((url) => {
      if (!url.endsWith(`/queue/${TICKET}`)) return json({}, 404);
      if (!admitted) return json(waiting);
      return json(ticket({ state: 'admitted', place: 304, serving: 304, admittedUntil: serverIn(120_000) }));
    });
    render(<Shop pollMs={60_000} />);
    // 600 a minute, ten a second: pushed every hundred places, the page counts between.
    act(() => latest(sources).pushStatus(status({ state: 'admitting', length: 900, serving: 300, admitPerMinute: 600 })));
    await waitFor(() => expect(queueMessage()).toHaveTextContent('ahead of you'));
    const readsBefore = ticketReads(calls).length;
    admitted = true;
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'turn'), { timeout: 4000 });
    expect(ticketReads(calls).length).toBeGreaterThan(readsBefore);
    // The figures move with it, not only with the pushes.
    expect(screen.getByTestId('queue-figures')).toHaveTextContent(/now serving 3(0[4-9]|1\d)/);
  });

  it('says clearly when a purchase is refused as not admitted', async () => {
    window.localStorage.setItem('flashsale.userId', 'alice');
    const admitted = ticket({ state: 'admitted', place: 3, serving: 3, admittedUntil: serverIn(60_000) });
    window.localStorage.setItem(ticketKey(1, 'alice'), JSON.stringify(admitted));
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ state: 'admitting', serving: 3 }));
      if (url.endsWith(`/queue/${TICKET}`)) return json(admitted);
      if (url.endsWith('/purchase')) {
        return problem('/problems/not-admitted', 'Not admitted', 403, 'this ticket is not admitted now', {}, {
          outcome: 'not_admitted',
        });
      }
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    const buy = await screen.findByTestId('buy-button');
    await waitFor(() => expect(buy).toBeEnabled());
    await userEvent.setup().click(buy);
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveAttribute('data-kind', 'not_admitted');
    expect(outcome).toHaveTextContent('Not your turn to buy');
    expect(outcome).toHaveTextContent('buying needs your turn in the queue. This ticket is not admitted now.');
  });

  it('closes the queue for everyone at the sell-out', async () => {
    window.localStorage.setItem('flashsale.userId', 'alice');
    window.localStorage.setItem(ticketKey(1, 'alice'), JSON.stringify(ticket({ state: 'waiting', place: 900 })));
    mockFetch((url) => {
      if (url.endsWith('/status')) {
        return json(status({ state: 'closed', serving: 100 }, { state: 'sold_out', remaining: 0, sold: 100 }));
      }
      if (url.endsWith(`/queue/${TICKET}`)) return json(ticket({ state: 'closed', place: 900 }));
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'closed'));
    expect(queueMessage()).toHaveTextContent('Sold out, the queue is closed');
    expect(screen.getByTestId('buy-button')).toBeDisabled();
    expect(screen.getByTestId('buy-hint')).toHaveTextContent('The queue is closed.');
  });

  it('waits for the queue to open, and says why a join was refused', async () => {
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ opensAt: serverIn(-1000) }));
      if (url.endsWith('/queue')) return problem('/problems/queue-closed', 'Queue closed', 410, 'the sale sold out');
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    const user = await typeAlice();
    await user.click(screen.getByTestId('buy-button'));
    expect(await screen.findByTestId('queue-problem')).toHaveTextContent('the sale sold out');
  });

  it('counts down to the pre-queue’s opening with Join off', async () => {
    mockFetch((url) => (url.endsWith('/status') ? json(status({ opensAt: serverIn(30_000) })) : json({}, 404)));
    render(<Shop pollMs={60_000} />);
    await typeAlice();
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'not_open'));
    expect(queueMessage()).toHaveTextContent(/The queue opens in 00:(29|30)/);
    expect(screen.getByTestId('buy-button')).toHaveTextContent('Join the queue');
    expect(screen.getByTestId('buy-button')).toBeDisabled();
  });

  it('joins with the ALTCHA solution when the queue asks for proof of work, and solves again after a refusal', async () => {
    let refuse = true;
    const calls = mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ proofOfWork: true }));
      if (url.endsWith('/queue')) {
        if (refuse) return problem('/problems/proof-of-work-invalid', 'Invalid proof', 403, 'the solution does not verify');
        return json(ticket({}), 201);
      }
      return json({}, 404);
    });
    const { container } = render(<Shop pollMs={60_000} />);
    const user = await typeAlice();
    const widget = () => container.querySelector('altcha-widget');
    await waitFor(() => expect(widget()).not.toBeNull());
    expect(widget()).toHaveAttribute('challenge', '/flash-sale/queue/challenge');
    const button = screen.getByTestId('buy-button');
    expect(button).toBeDisabled();

    const solve = (payload: string) =>
      act(() => {
        widget()?.dispatchEvent(new CustomEvent('statechange', { detail: { state: 'verified', payload } }));
      });
    solve('first-payload');
    await waitFor(() => expect(button).toBeEnabled());
    await user.click(button);
    expect(await screen.findByTestId('queue-problem')).toHaveTextContent('the solution does not verify');
    expect(JSON.parse(String(joins(calls)[0]?.init?.body))).toEqual({ userId: 'alice', altcha: 'first-payload' });
    // A new widget, a new challenge: Join waits for its solution.
    await waitFor(() => expect(button).toBeDisabled());

    refuse = false;
    solve('second-payload');
    await waitFor(() => expect(button).toBeEnabled());
    await user.click(button);
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'prequeue'));
    expect(JSON.parse(String(joins(calls)[1]?.init?.body))).toEqual({ userId: 'alice', altcha: 'second-payload' });
    expect(widget()).toBeNull();
  });

  it('joins as the signed-in shopper (jwt mode), keeping the ticket under their subject', async () => {
    const token = tokenFor('alice');
    window.sessionStorage.setItem('flashsale.shopperToken', token);
    const calls = mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({}, { auth: { mode: 'jwt', tokenCookie: null } }));
      if (url.endsWith('/queue')) return json(ticket({}), 201);
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    // The shopper line is there from the first render ("Loading the sale…"): wait for the name.
    await waitFor(() => expect(screen.getByTestId('shopper')).toHaveTextContent('alice'));
    expect(screen.queryByTestId('buy-user-id')).toBeNull();
    const button = screen.getByTestId('buy-button');
    await waitFor(() => expect(button).toHaveTextContent('Join the queue'));
    await userEvent.setup().click(button);
    await waitFor(() => expect(queueMessage()).toHaveAttribute('data-kind', 'prequeue'));
    const joined = joins(calls)[0];
    expect(header(joined, 'Authorization')).toBe(`Bearer ${token}`);
    expect(JSON.parse(String(joined?.init?.body))).toEqual({});
    expect(window.localStorage.getItem(ticketKey(1, 'alice'))).toContain(TICKET);
  });

  it('leaves a sale without a queue as it was', async () => {
    mockFetch((url) => (url.endsWith('/status') ? json({ ...OPEN_STATUS, auth: OPEN_AUTH }) : json({}, 404)));
    render(<Shop pollMs={60_000} />);
    await typeAlice();
    expect(screen.queryByTestId('queue')).toBeNull();
    expect(screen.getByTestId('buy-button')).toHaveTextContent('Buy now');
    await waitFor(() => expect(screen.getByTestId('buy-button')).toBeEnabled());
  });
});
