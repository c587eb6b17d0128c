import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { QueueTerms, SaleResource } from '../lib/types';
import { header, json, mockFetch, problem, type Call } from '../test/fetchMock';
import { Admin } from './Admin';

const TOKEN = 'admin-secret-1';
const QUEUE: QueueTerms = { opensAt: null, shuffle: true, admitPerMinute: 600, admittedSeconds: 120, proofOfWork: false };

afterEach(() => vi.unstubAllGlobals());

function sale(overrides: Partial<SaleResource> = {}): SaleResource {
  return {
    saleId: 2,
    state: 'scheduled',
    phase: 'active',
    version: 1,
    total: 50,
    sold: 0,
    remaining: 50,
    perUserLimit: 1,
    startsAt: '2026-12-24T10:00:00.000Z',
    endsAt: null,
    createdAt: '2026-12-06T08:12:40.940Z',
    endedAt: null,
    pausedAt: null,
    checkout: null,
    products: [],
    etag: '"sale-2-v1"',
    ...overrides,
  };
}

/** An admin API of one sale; a POST answers `created`. */
function server(created: () => Response, current: SaleResource = sale()): Call[] {
  return mockFetch((url, init) => {
    if (header({ url, init }, 'Authorization') !== `Bearer ${TOKEN}`) return json({}, 401);
    if (init?.method === 'POST') return created();
    if (url.endsWith('/admin/sales')) return json({ sales: [current] });
    if (url.includes('/orders?') || url.includes('/audit?')) return json({ orders: [], entries: [], next: null });
    return json({}, 500);
  });
}

async function fillOneProduct(user: ReturnType<typeof userEvent.setup>) {
  const row = screen.getByTestId('product-row-0');
  await user.type(within(row).getByLabelText('SKU'), 'lumen-lamp');
  await user.type(within(row).getByLabelText('Name'), 'Lumen Desk Lamp');
  await user.type(within(row).getByLabelText('Price'), '29.90');
  await user.type(within(row).getByLabelText('Stock'), '50');
  await user.type(screen.getByLabelText('Starts at'), '2026-12-24T10:00');
}

const posted = (calls: Call[]) =>
  JSON.parse(String(calls.filter((call) => call.init?.method === 'POST').at(-1)?.init?.body)) as Record<string, unknown>;

describe('Admin new sale with a waiting room', () => {
  it('sends no queue unless asked, then the queue with its defaults and what was typed, and shows it', async () => {
    window.sessionStorage.setItem('flashsale.adminToken', TOKEN);
    let answer = sale({ saleId: 3 });
    const calls = server(() => json(answer, 201));
    const user = userEvent.setup();
    render(<Admin pollMs={60_000} />);
    await screen.findByTestId('sales-table');
    await fillOneProduct(user);
    const fields = screen.getByTestId('queue-fields');
    expect(within(fields).queryByLabelText('Admitted a minute')).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Schedule the sale' }));
    await screen.findByTestId('sale-made');
    expect(posted(calls)).not.toHaveProperty('queue');
    expect(screen.getByTestId('made-queue')).toHaveTextContent('Waiting room: none.');

    await user.click(within(fields).getByLabelText('Queue shoppers before the start'));
    expect(within(fields).getByLabelText('Shuffle at the start')).toBeChecked();
    expect(within(fields).getByLabelText('Time to buy (seconds)')).toHaveValue('120');
    expect(within(fields).getByLabelText('Proof of work to join')).not.toBeChecked();
    await user.type(within(fields).getByLabelText('Admitted a minute'), '600');
    await user.click(within(fields).getByLabelText('Proof of work to join'));
    answer = sale({ saleId: 4, queue: { ...QUEUE, proofOfWork: true } });
    await user.click(screen.getByRole('button', { name: 'Schedule the sale' }));
    await waitFor(() => expect(screen.getByTestId('sale-made')).toHaveTextContent('Sale 4 made'));
    expect(posted(calls).queue).toEqual({
      opensAt: null,
      shuffle: true,
      admitPerMinute: 600,
      admittedSeconds: 120,
      proofOfWork: true,
    });
    expect(screen.getByTestId('made-queue')).toHaveTextContent(
      'Waiting room: open from creation, shuffled at the start, 600 admitted a minute, 2 min to buy, proof of work to join.',
    );
  });

  it('shows a refused queue term at its field', async () => {
    window.sessionStorage.setItem('flashsale.adminToken', TOKEN);
    server(() => problem('/problems/invalid-sale', 'Invalid admitPerMinute', 400, 'admitPerMinute must be within [1, 1000000]'));
    const user = userEvent.setup();
    render(<Admin pollMs={60_000} />);
    await screen.findByTestId('sales-table');
    await fillOneProduct(user);
    await user.click(screen.getByLabelText('Queue shoppers before the start'));
    await user.type(screen.getByLabelText('Admitted a minute'), '0');
    await user.click(screen.getByRole('button', { name: 'Schedule the sale' }));
    const rate = screen.getByLabelText('Admitted a minute');
    await waitFor(() => expect(rate).toHaveAttribute('aria-invalid', 'true'));
    expect(rate).toHaveAccessibleDescription(/admitPerMinute must be within/);
  });
});

describe('Admin current sale', () => {
  it('shows its waiting room, or none', async () => {
    window.sessionStorage.setItem('flashsale.adminToken', TOKEN);
    server(() => json({}, 500), sale({ queue: { ...QUEUE, shuffle: false, admitPerMinute: null, admittedSeconds: 90 } }));
    render(<Admin pollMs={60_000} />);
    expect(await screen.findByTestId('current-queue')).toHaveTextContent(
      'open from creation, in arrival order, all admitted at the start, 1 min 30 s to buy',
    );
  });
});
