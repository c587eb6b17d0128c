import { render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { header, json, mockFetch, notModified, OPEN_STATUS } from '../test/fetchMock';
import { Shop } from './Shop';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('Shop', () => {
  it('shows live stock and polls with If-None-Match', async () => {
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
