import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RETRY_JITTER_MS, RETRY_MS, STALL_MS } from '../lib/statusStream';
import { installFakeEventSource, latest } from '../test/fakeEventSource';
import { type Handler, header, json, mockFetch, notModified, OPEN_STATUS } from '../test/fetchMock';
import { Shop } from './Shop';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const freshness = () => screen.getByTestId('stock-freshness');
const remaining = () => screen.getByTestId('stock-remaining');

/** The status endpoint with an ETag per version: an unchanged version answers 304. */
function versionedStatus(version: () => number): Handler {
  return (url, init) => {
    if (!url.endsWith('/status')) return json({}, 404);
    const tag = `"v${version()}"`;
    if ((init?.headers as Record<string, string>)['If-None-Match'] === tag) return notModified(tag);
    return json({ ...OPEN_STATUS, remaining: 100 - version(), sold: version() }, 200, { ETag: tag });
  };
}

describe('Shop', () => {
  it('polls with If-None-Match where there is no EventSource, and says so', async () => {
    let version = 1;
    const calls = mockFetch((url, init) => {
      if (!url.endsWith('/status')) return json({}, 404);
      const tag = `"v${version}"`;
      if ((init?.headers as Record<string, string>)['If-None-Match'] === tag) return notModified(tag);
      return json({ ...OPEN_STATUS, remaining: 100 - version, sold: version }, 200, { ETag: tag });
    });
    render(<Shop pollMs={20} />);
    // The figure is on the page from the first render ('–'): wait for the value itself.
    await waitFor(() => expect(screen.getByTestId('stock-remaining')).toHaveTextContent('99'));
    expect(freshness()).toHaveAttribute('data-mode', 'polling');
    expect(freshness()).toHaveTextContent('Updating every second');
    expect(screen.getByTestId('stock-total')).toHaveTextContent('100');
    expect(screen.getByRole('progressbar', { name: 'Items left' })).toHaveAttribute('aria-valuenow', '99');
    expect(screen.getByTestId('sale-state')).toHaveTextContent('Sale is live');

    await waitFor(() => expect(calls.length).toBeGreaterThanOrEqual(3));
    expect(header(calls[1], 'If-None-Match')).toBe('"v1"');

    version = 2;
    await waitFor(() => expect(screen.getByTestId('stock-remaining')).toHaveTextContent('98'));
  });

  it('counts down to the start using the server clock', async () => {
    // This browser's clock is 1 hour behind the server's.
    const serverNow = Date.now() + 3_600_000;
    mockFetch(() =>
      json({
        ...OPEN_STATUS,
        state: 'upcoming',
        remaining: 100,
        sold: 0,
        startsAt: new Date(serverNow + 90_000).toISOString(),
        serverTime: new Date(serverNow).toISOString(),
      }),
    );
    render(<Shop pollMs={60_000} />);
    const countdown = await screen.findByTestId('countdown');
    expect(screen.getByTestId('sale-state')).toHaveTextContent('Starts in');
    await waitFor(() => expect(countdown.textContent).toMatch(/^01:(29|30)$/));
  });

  it.each([
    ['sold_out', 'Sold out'],
    ['ended', 'Sale ended'],
  ])('shows the %s state', async (state, words) => {
    mockFetch(() => json({ ...OPEN_STATUS, state, remaining: 0, sold: 100 }));
    render(<Shop pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('sale-state')).toHaveTextContent(words));
  });

  it('calls what is left after the end unsold', async () => {
    mockFetch(() => json({ ...OPEN_STATUS, state: 'ended', remaining: 10, sold: 90 }));
    render(<Shop pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('stock')).toHaveTextContent('10 of 100 unsold'));
  });

  it('keeps the last figures and says so when the server stops answering', async () => {
    let up = true;
    mockFetch(() => (up ? json(OPEN_STATUS) : Promise.reject(new TypeError('Failed to fetch'))));
    render(<Shop pollMs={20} />);
    // The figure is on the page from the first render ('–'): wait for the value itself.
    await waitFor(() => expect(screen.getByTestId('stock-remaining')).toHaveTextContent('37'));
    up = false;
    expect(await screen.findByTestId('status-problem')).toHaveTextContent('could not be reached');
    expect(screen.getByTestId('stock-remaining')).toHaveTextContent('37');
  });
});

describe('Shop with the event stream', () => {
  it('shows the pushed stock as live, follows later events, and closes the stream on unmount', () => {
    const sources = installFakeEventSource();
    const calls = mockFetch(() => json({}, 500));
    const { unmount } = render(<Shop pollMs={20} />);
    const source = latest(sources);
    expect(source.url).toBe('/flash-sale/events');
    expect(freshness()).toHaveAttribute('data-mode', 'connecting');

    act(() => source.pushStatus(OPEN_STATUS));
    expect(remaining()).toHaveTextContent('37');
    expect(screen.getByTestId('sale-state')).toHaveTextContent('Sale is live');
    expect(freshness()).toHaveAttribute('data-mode', 'live');
    expect(freshness()).toHaveTextContent('Stock: Live updates');

    act(() => source.pushStatus({ ...OPEN_STATUS, remaining: 36, sold: 64 }));
    expect(remaining()).toHaveTextContent('36');
    // A poller would have asked at mount already.
    expect(calls).toHaveLength(0);

    unmount();
    expect(source.closedByPage).toBe(true);
  });

  it('polls with If-None-Match once the stream is refused, and is live again after a retry', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const sources = installFakeEventSource();
    const calls = mockFetch(versionedStatus(() => 1));
    render(<Shop pollMs={1000} />);
    act(() => latest(sources).refuse());
    expect(freshness()).toHaveAttribute('data-mode', 'polling');
    expect(freshness()).toHaveTextContent('Updating every second');
    await waitFor(() => expect(remaining()).toHaveTextContent('99'));

    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(header(calls[1], 'If-None-Match')).toBe('"v1"');
    expect(sources).toHaveLength(1);

    await act(() => vi.advanceTimersByTimeAsync(RETRY_MS + RETRY_JITTER_MS));
    expect(sources).toHaveLength(2);
    expect(sources[0]!.closedByPage).toBe(true);
    // Still polling until the new stream delivers.
    expect(freshness()).toHaveAttribute('data-mode', 'polling');
    act(() => latest(sources).pushStatus({ ...OPEN_STATUS, remaining: 90, sold: 10 }));
    expect(remaining()).toHaveTextContent('90');
    expect(freshness()).toHaveAttribute('data-mode', 'live');

    const polls = calls.length;
    await act(() => vi.advanceTimersByTimeAsync(5000));
    expect(calls).toHaveLength(polls);
  });

  it('polls meanwhile when a lost stream takes long to come back', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const sources = installFakeEventSource();
    const calls = mockFetch(versionedStatus(() => 5));
    render(<Shop pollMs={1000} />);
    const source = latest(sources);
    act(() => source.pushStatus(OPEN_STATUS));
    act(() => source.drop());
    expect(freshness()).toHaveAttribute('data-mode', 'connecting');
    expect(freshness()).toHaveTextContent('Connecting…');
    expect(calls).toHaveLength(0);

    await act(() => vi.advanceTimersByTimeAsync(STALL_MS));
    expect(freshness()).toHaveAttribute('data-mode', 'polling');
    await waitFor(() => expect(remaining()).toHaveTextContent('95'));

    // EventSource reconnected by itself: the same source delivers again.
    act(() => source.pushStatus({ ...OPEN_STATUS, remaining: 94, sold: 6 }));
    expect(freshness()).toHaveAttribute('data-mode', 'live');
    expect(remaining()).toHaveTextContent('94');
    expect(sources).toHaveLength(1);
  });

  it('asks for the status once, at once, after a purchase while live', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const sources = installFakeEventSource();
    const calls = mockFetch((url) =>
      url.endsWith('/purchase')
        ? json({ outcome: 'confirmed', orderId: 'o-1', userId: 'alice', position: 64, purchasedAt: '', saleId: 1 }, 201)
        : json({ ...OPEN_STATUS, remaining: 36, sold: 64 }, 200, { ETag: '"v64"' }),
    );
    render(<Shop pollMs={20} />);
    act(() => latest(sources).pushStatus(OPEN_STATUS));
    expect(remaining()).toHaveTextContent('37');

    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    await user.type(screen.getByLabelText('Your user id'), 'alice');
    await user.click(screen.getByRole('button', { name: 'Buy now' }));
    await waitFor(() => expect(remaining()).toHaveTextContent('36'));
    expect(freshness()).toHaveAttribute('data-mode', 'live');
    // And no polling after it: the stream brings the rest.
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(calls.map((call) => call.url)).toEqual(['/flash-sale/purchase', '/flash-sale/status']);
  });
});

describe('Shop with both the stream and a poll', () => {
  it('keeps the later read when a poll answers after a newer event', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const sources = installFakeEventSource();
    let answerPoll: (response: Response) => void = () => undefined;
    const calls = mockFetch((url) =>
      url.endsWith('/purchase')
        ? json({ outcome: 'confirmed', orderId: 'o-1', userId: 'bo', position: 64, purchasedAt: '', saleId: 1 }, 201)
        : new Promise<Response>((resolve) => (answerPoll = resolve)),
    );
    render(<Shop pollMs={1000} />);
    const source = latest(sources);
    act(() => source.pushStatus(OPEN_STATUS));

    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    await user.type(screen.getByLabelText('Your user id'), 'bo');
    await user.click(screen.getByRole('button', { name: 'Buy now' }));
    await waitFor(() => expect(calls.at(-1)?.url).toBe('/flash-sale/status'));
    // The poll was read at 15:00:01; the next event, read at 15:00:02, overtakes it.
    act(() =>
      source.pushStatus({ ...OPEN_STATUS, remaining: 35, sold: 65, serverTime: '2026-11-24T15:00:02.000Z' }),
    );
    await act(async () => {
      answerPoll(json({ ...OPEN_STATUS, remaining: 36, sold: 64, serverTime: '2026-11-24T15:00:01.000Z' }));
      await vi.advanceTimersByTimeAsync(100);
    });
    expect(remaining()).toHaveTextContent('35');
  });
});
