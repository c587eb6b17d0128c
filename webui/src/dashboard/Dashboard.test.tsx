import { act, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installFakeEventSource, latest } from '../test/fakeEventSource';
import { ADMITTING_QUEUE, AURORA, header, json, mockFetch, OPEN_STATUS, problem } from '../test/fetchMock';
import userEvent from '@testing-library/user-event';
import { Dashboard } from './Dashboard';

afterEach(() => vi.unstubAllGlobals());

function metricsBody(step: number) {
  return {
    uptimeSeconds: 10 + step,
    requests: { total: 100 * step, purchase: 80 * step },
    outcomes: { confirmed: 10 * step, sold_out: 0, already_purchased: step },
    successRate: 0.9,
    latencyMs: { p50: 1.5, p95: 4, p99: 9, max: 20 },
    throughput: { requestsPerSecond: 100, purchasesPerSecond: 80, windowSeconds: 10 },
    queueDepth: 3,
    queueHighWater: 40 + step,
    queueCapacity: 1000,
    breaker: { state: 'closed', since: '2026-11-24T15:00:00Z', trips: 0 },
    sale: OPEN_STATUS,
    currentSale: {
      saleId: 7,
      outcomes: { confirmed: 3 * step, sold_out: 0, already_purchased: step },
      successRate: 0.75,
      queueHighWater: 12,
    },
    adminActions: { create: {}, pause: {} },
    allocator: { alive: true, pid: 4242, heartbeatAgeMs: 12, restarts: 0 },
    workers: { alive: 2, configured: 2 },
    openEventStreams: 1234,
    processes: [
      { role: 'allocator', pid: 4242, cpuSeconds: 2 + 0.5 * step, residentBytes: 31.5 * 2 ** 20 },
      { role: 'worker', pid: 4243, cpuSeconds: 5, residentBytes: 30 * 2 ** 20 },
    ],
  };
}

const HEALTH = {
  status: 'ok',
  uptimeSeconds: 10,
  allocator: { alive: true, pid: 4242, heartbeatAgeMs: 12, restarts: 0 },
  breaker: { state: 'closed', since: null, trips: 0 },
  workers: { alive: 2, configured: 2 },
  serverTime: '2026-11-24T15:00:00Z',
};

describe('Dashboard', () => {
  it('asks once for the operator token when the server guards its figures, then shows them', async () => {
    const TOKEN = 'operator-secret-1';
    const calls = mockFetch((url, init) => {
      if (url.endsWith('/status')) return json(OPEN_STATUS);
      const sent = (init?.headers as Record<string, string> | undefined)?.Authorization;
      if (!sent) {
        if (url.endsWith('/health')) return json({ status: 'ok' });
        const challenge = { 'WWW-Authenticate': 'Bearer realm="flashsale"' };
        return problem('/problems/token-required', 'Authorization required', 401, 'send it', challenge);
      }
      if (sent !== `Bearer ${TOKEN}`) {
        const challenge = { 'WWW-Authenticate': 'Bearer realm="flashsale", error="invalid_token"' };
        return problem('/problems/invalid-token', 'Invalid token', 401, 'wrong operator token', challenge);
      }
      return json(url.endsWith('/health') ? HEALTH : metricsBody(1));
    });
    const user = userEvent.setup();
    render(<Dashboard pollMs={30} />);
    const form = await screen.findByTestId('operator-token-form');
    expect(form).toHaveTextContent('operators only');
    expect(screen.queryByTestId('dashboard-problem')).not.toBeInTheDocument();

    await user.type(screen.getByLabelText('Operator token'), 'not-it');
    await user.click(screen.getByRole('button', { name: 'Show figures' }));
    expect(await screen.findByText('That operator token was refused. Try again.')).toBeInTheDocument();

    await user.clear(screen.getByLabelText('Operator token'));
    await user.type(screen.getByLabelText('Operator token'), TOKEN);
    await user.click(screen.getByRole('button', { name: 'Show figures' }));
    await waitFor(() => expect(screen.getByTestId('tile-allocator')).toHaveTextContent('pid 4242'));
    expect(screen.queryByTestId('operator-token-form')).not.toBeInTheDocument();
    expect(window.sessionStorage.getItem('flashsale.operatorToken')).toBe(TOKEN);
    const lastMetrics = calls.filter((call) => call.url.endsWith('/metrics')).at(-1);
    expect(header(lastMetrics, 'Authorization')).toBe(`Bearer ${TOKEN}`);
    window.sessionStorage.clear();
  });

  it('shows health, allocator, breaker, queue, stock and moving rates', async () => {
    let step = 0;
    mockFetch((url) => {
      if (url.endsWith('/health')) return json(HEALTH);
      if (url.endsWith('/status')) return json(OPEN_STATUS);
      step += 1;
      return json(metricsBody(step));
    });
    render(<Dashboard pollMs={30} />);
    expect(await screen.findByText('OK')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('tile-allocator-value')).toHaveTextContent('Alive'));
    expect(screen.getByTestId('tile-allocator')).toHaveTextContent('pid 4242');
    expect(screen.getByTestId('tile-breaker-value')).toHaveTextContent('closed');
    expect(screen.getByTestId('tile-queue-value')).toHaveTextContent('3');
    expect(screen.getByTestId('tile-stock-value')).toHaveTextContent('37 / 100');
    expect(screen.getByTestId('tile-workers-value')).toHaveTextContent('2 / 2');
    expect(screen.getByTestId('tile-workers')).toHaveTextContent('1,234 live pages');

    // Two samples make a rate: confirmed grows by 10 per sample.
    await waitFor(() => expect(screen.getByTestId('chart-rates-confirmed')).not.toHaveTextContent('–'));
    expect(screen.getByTestId('chart-latency-p99')).toHaveTextContent('9.0 ms');
    const confirmedLine = document.querySelector('[data-testid="chart-rates"] path[data-series="confirmed"]');
    expect(confirmedLine?.getAttribute('d')).toMatch(/^M/);

    expect(screen.getByTestId('process-4242')).toHaveTextContent('allocator');
    expect(screen.getByTestId('process-4242')).toHaveTextContent('31.5 MiB');
    // Between two samples the server's uptime grows by 1 s and the allocator's CPU by 0.5 s.
    expect(screen.getByTestId('process-4242')).toHaveTextContent('50.0%');
    expect(screen.getByTestId('process-4243')).toHaveTextContent('0.0%');
  });

  it("shows the current sale's own outcomes, success rate and queue peak beside those since start", async () => {
    mockFetch((url) => {
      if (url.endsWith('/health')) return json(HEALTH);
      if (url.endsWith('/status')) return json(OPEN_STATUS);
      return json({ ...metricsBody(2), successRate: 0.5 });
    });
    render(<Dashboard pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('tile-success-value')).toHaveTextContent('75.0%'));
    expect(screen.getByRole('heading', { name: 'Success rate, this sale' })).toBeInTheDocument();
    expect(screen.getByTestId('tile-success')).toHaveTextContent('50.0% since start');
    expect(screen.getByTestId('tile-queue-peak')).toHaveTextContent('peak 42 · this sale 12');
    expect(screen.getByTestId('sale-outcomes-heading')).toHaveTextContent('Sale 7');
    expect(screen.getByTestId('sale-outcome-confirmed')).toHaveTextContent('6');
    expect(screen.getByTestId('outcome-confirmed')).toHaveTextContent('20');
    expect(screen.getByTestId('sale-outcome-pending')).toHaveTextContent('0');
    // No admin action yet: no table.
    expect(screen.queryByTestId('admin-actions-table')).not.toBeInTheDocument();
  });

  it('says a new sale has no success rate until a purchase of it is decided', async () => {
    const fresh = { saleId: 8, outcomes: { confirmed: 0, sold_out: 0, invalid: 2 }, successRate: 0, queueHighWater: 0 };
    mockFetch((url) => (url.endsWith('/health') ? json(HEALTH) : json({ ...metricsBody(1), currentSale: fresh })));
    render(<Dashboard pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('tile-success-value')).toHaveTextContent('no purchase yet'));
    expect(screen.getByTestId('tile-success')).toHaveTextContent('90.0% since start');
  });

  it('lists the admin actions by outcome once there are some', async () => {
    const adminActions = { create: { ok: 2, 'sale-in-progress': 1 }, pause: {}, set_end: { ok: 1 } };
    mockFetch((url) => (url.endsWith('/health') ? json(HEALTH) : json({ ...metricsBody(1), adminActions })));
    render(<Dashboard pollMs={60_000} />);
    const table = await screen.findByTestId('admin-actions-table');
    expect(screen.getByTestId('admin-action-create')).toHaveTextContent('ok 2 · sale-in-progress 1');
    expect(screen.getByTestId('admin-action-set_end')).toHaveTextContent('set end');
    expect(table.querySelectorAll('tbody tr')).toHaveLength(2);
  });

  it("shows each process's memory from health before the metrics answer", async () => {
    const processes = [
      { role: 'master', pid: 4240, cpuSeconds: 1, residentBytes: 40 * 2 ** 20 },
      { role: 'worker', pid: 4243, cpuSeconds: 5, residentBytes: 30 * 2 ** 20 },
    ];
    mockFetch((url) => (url.endsWith('/health') ? json({ ...HEALTH, processes }) : json({}, 500)));
    render(<Dashboard pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('process-4240')).toHaveTextContent('40 MiB'));
    expect(screen.getByTestId('process-4240')).toHaveTextContent('master');
    expect(screen.getByTestId('process-4243')).toHaveTextContent('30 MiB');
  });

  it('names a journal that cannot be written, in health, the breaker and its own tile', async () => {
    const failing = {
      writable: false,
      failingSince: '2026-11-24T15:00:00Z',
      lastError: 'SQLITE_FULL: database or disk is full',
      writeErrors: 3,
    };
    mockFetch((url) => {
      if (url.endsWith('/health')) {
        return json(
          {
            ...HEALTH,
            status: 'unhealthy',
            problems: ['the journal cannot be written: SQLITE_FULL: database or disk is full'],
            journal: failing,
            breaker: { state: 'open', since: null, trips: 1, lastReason: 'journal cannot be written' },
          },
          503,
        );
      }
      if (url.endsWith('/status')) return json(OPEN_STATUS);
      return json({
        ...metricsBody(1),
        journal: failing,
        breaker: { state: 'open', since: null, trips: 1, lastReason: 'journal cannot be written' },
      });
    });
    render(<Dashboard pollMs={60_000} />);
    expect(await screen.findByText('Unhealthy')).toBeInTheDocument();
    expect(screen.getByTestId('tile-health')).toHaveTextContent('the journal cannot be written');
    await waitFor(() =>
      expect(screen.getByTestId('tile-journal-value')).toHaveTextContent('Cannot be written'),
    );
    expect(screen.getByTestId('tile-journal')).toHaveTextContent('SQLITE_FULL');
    expect(screen.getByTestId('tile-breaker')).toHaveTextContent('journal cannot be written');
  });

  it('keeps the journal tile for a server that names the sqlite engine', async () => {
    const journal = { writable: true, failingSince: null, lastError: null, writeErrors: 2 };
    const engine = { name: 'sqlite' };
    mockFetch((url) => {
      if (url.endsWith('/health')) return json({ ...HEALTH, journal, engine });
      if (url.endsWith('/status')) return json(OPEN_STATUS);
      return json({ ...metricsBody(1), journal, engine });
    });
    render(<Dashboard pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('tile-journal-value')).toHaveTextContent('Writable'));
    expect(screen.getByTestId('tile-journal')).toHaveTextContent('2 write errors');
    expect(screen.getByTestId('tile-journal')).toHaveClass('tile--good');
    expect(screen.queryByTestId('tile-redis')).not.toBeInTheDocument();
  });

  describe('with the redis engine', () => {
    const REDIS_URL = 'redis://127.0.0.1:6379/0';
    const DURABLE = {
      name: 'redis',
      url: REDIS_URL,
      appendonly: 'yes',
      appendfsync: 'always',
      weaker: null,
    };
    const REACHABLE = { writable: true, failingSince: null, lastError: null, writeErrors: 0 };
    const UNREACHABLE_ERROR = `Redis at ${REDIS_URL} cannot be reached: TimeoutError: Timeout reading from socket`;
    const UNREACHABLE = {
      writable: false,
      failingSince: '2026-11-24T15:00:00Z',
      lastError: UNREACHABLE_ERROR,
      writeErrors: 1,
    };

    function serve(engine: object, journal: object) {
      const failing = !(journal as { writable: boolean }).writable;
      const breaker = failing
        ? { state: 'open', since: null, trips: 1, lastReason: 'Redis cannot be reached' }
        : { state: 'closed', since: null, trips: 0 };
      mockFetch((url) => {
        if (url.endsWith('/health')) {
          return failing
            ? json({ ...HEALTH, status: 'unhealthy', problems: [UNREACHABLE_ERROR], journal, engine, breaker }, 503)
            : json({ ...HEALTH, problems: [], journal, engine, breaker });
        }
        if (url.endsWith('/status')) return json(OPEN_STATUS);
        return json({ ...metricsBody(1), journal, engine, breaker });
      });
    }

    it('shows a reachable Redis that fsyncs every write, in place of the journal', async () => {
      serve(DURABLE, REACHABLE);
      render(<Dashboard pollMs={60_000} />);
      await waitFor(() => expect(screen.getByTestId('tile-redis-value')).toHaveTextContent('Reachable'));
      const tile = screen.getByTestId('tile-redis');
      expect(tile).toHaveClass('tile--good');
      expect(screen.getByRole('heading', { name: 'Redis' })).toBeInTheDocument();
      expect(screen.getByTestId('tile-redis-url')).toHaveTextContent(REDIS_URL);
      expect(screen.getByTestId('tile-redis-durability')).toHaveTextContent('fsync always');
      expect(screen.getByTestId('tile-redis-durability')).not.toHaveClass('tile__warning');
      expect(screen.queryByTestId('tile-redis-error')).not.toBeInTheDocument();
      expect(screen.queryByTestId('tile-journal')).not.toBeInTheDocument();
    });

    it('names a Redis that cannot be reached, in health, the breaker and its own tile', async () => {
      serve(DURABLE, UNREACHABLE);
      render(<Dashboard pollMs={60_000} />);
      expect(await screen.findByText('Unhealthy')).toBeInTheDocument();
      expect(screen.getByTestId('tile-health')).toHaveTextContent('Timeout reading from socket');
      await waitFor(() =>
        expect(screen.getByTestId('tile-redis-value')).toHaveTextContent('Cannot be reached'),
      );
      const tile = screen.getByTestId('tile-redis');
      expect(tile).toHaveClass('tile--bad');
      expect(screen.getByTestId('tile-redis-error')).toHaveTextContent(
        `${UNREACHABLE_ERROR} · nothing is sold`,
      );
      expect(screen.getByTestId('tile-redis-url')).toHaveTextContent(REDIS_URL);
      expect(screen.getByTestId('tile-breaker')).toHaveTextContent('Redis cannot be reached');
    });

    it('warns of weaker durability the operator accepted', async () => {
      const weaker = "appendfsync is 'everysec', not 'always'";
      serve({ ...DURABLE, appendfsync: 'everysec', weaker }, REACHABLE);
      render(<Dashboard pollMs={60_000} />);
      await waitFor(() => expect(screen.getByTestId('tile-redis-value')).toHaveTextContent('Reachable'));
      expect(screen.getByTestId('tile-redis')).toHaveClass('tile--warn');
      const durability = screen.getByTestId('tile-redis-durability');
      expect(durability).toHaveClass('tile__warning');
      expect(durability).toHaveTextContent(`Weaker durability: ${weaker}`);
      expect(durability).not.toHaveTextContent('fsync always');
    });
  });

  it('shows an unhealthy server (503 health) as unhealthy, not as an error', async () => {
    mockFetch((url) =>
      url.endsWith('/health')
        ? json(
            {
              status: 'unhealthy',
              uptimeSeconds: 5,
              allocator: { alive: false, pid: null, heartbeatAgeMs: 9000, restarts: 2 },
              breaker: { state: 'open', since: null, trips: 1 },
              workers: { alive: 1, configured: 2 },
              serverTime: '2026-11-24T15:00:00Z',
            },
            503,
          )
        : json({}, 500),
    );
    render(<Dashboard pollMs={60_000} />);
    expect(await screen.findByText('Unhealthy')).toBeInTheDocument();
    expect(screen.getByTestId('tile-allocator-value')).toHaveTextContent('Down');
    expect(screen.getByTestId('tile-breaker-value')).toHaveTextContent('open');
  });

  it('shows the stock and breaker pushed by the stream, and says they are live', async () => {
    const sources = installFakeEventSource();
    mockFetch((url) => (url.endsWith('/health') ? json(HEALTH) : json(metricsBody(1))));
    render(<Dashboard pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('tile-stock-value')).toHaveTextContent('37 / 100'));
    expect(screen.getByTestId('stock-freshness')).toHaveAttribute('data-mode', 'connecting');

    act(() => latest(sources).pushStatus({ ...OPEN_STATUS, remaining: 12, sold: 88, breaker: 'open' }));
    expect(screen.getByTestId('tile-stock-value')).toHaveTextContent('12 / 100');
    expect(screen.getByTestId('tile-breaker-value')).toHaveTextContent('open (shedding load)');
    const freshness = screen.getByTestId('stock-freshness');
    expect(freshness).toHaveAttribute('data-mode', 'live');
    expect(freshness).toHaveTextContent('Stock and breaker state: Live updates');
  });

  it('shows the stock of each product of a sale of several, live', async () => {
    const sources = installFakeEventSource();
    const tee = { ...AURORA, currency: 'EUR', priceCents: 2500, imageUrl: null, total: 10 };
    const products = [
      { ...tee, sku: 'tee-s', name: 'Tee, size S', remaining: 0, sold: 10, state: 'sold_out' },
      { ...tee, sku: 'tee-m', name: 'Tee, size M', remaining: 4, sold: 6 },
      { ...tee, sku: 'tee-l', name: 'Tee, size L', remaining: 7, sold: 3 },
    ];
    const sale = { ...OPEN_STATUS, total: 30, remaining: 11, sold: 19, products };
    mockFetch((url) => (url.endsWith('/health') ? json(HEALTH) : json({ ...metricsBody(1), sale })));
    render(<Dashboard pollMs={60_000} />);
    const table = await screen.findByTestId('product-stock-table');
    expect(screen.getByRole('heading', { name: 'Stock by product' })).toBeInTheDocument();
    expect(screen.getByRole('rowheader', { name: 'Tee, size S tee-s' })).toBeInTheDocument();
    expect(screen.getByTestId('product-stock-tee-s')).toHaveTextContent('10 / 10');
    expect(screen.getByTestId('product-stock-tee-s-remaining')).toHaveTextContent('0 · sold out');
    expect(screen.getByTestId('product-stock-tee-m')).toHaveTextContent('6 / 10');
    expect(screen.getByTestId('product-stock-tee-m-remaining')).toHaveTextContent('4');
    expect(screen.getByRole('progressbar', { name: 'Tee, size L left' })).toHaveAttribute('aria-valuenow', '7');
    expect(table.querySelectorAll('tbody tr')).toHaveLength(3);

    act(() =>
      latest(sources).pushStatus({
        ...sale,
        remaining: 10,
        sold: 20,
        products: [products[0], { ...products[1], remaining: 3, sold: 7 }, products[2]],
      }),
    );
    expect(screen.getByTestId('product-stock-tee-m-remaining')).toHaveTextContent('3');
    expect(screen.getByTestId('tile-stock-value')).toHaveTextContent('10 / 30');
  });

  it('shows a sale with checkout: held, confirmed, expired, cancelled, waiting and re-offered units, and the webhook backlog', async () => {
    const sale = {
      ...OPEN_STATUS,
      checkout: { holdSeconds: 600, extendSeconds: 0 },
      remaining: 0,
      sold: 100,
      held: 3,
      waitlist: 5,
      expired: 4,
      cancelled: 1,
      offers: 2,
    };
    const webhooks = {
      alive: true,
      pid: 4250,
      restarts: 0,
      backlog: 7,
      retrying: 1,
      oldestUndeliveredAgeSeconds: 75,
      deliveries: { delivered: 120, failed: 4, gaveUp: 0 },
    };
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(sale);
      if (url.endsWith('/health')) return json(HEALTH);
      return json({ ...metricsBody(1), sale, webhooks });
    });
    render(<Dashboard pollMs={30} />);
    const checkout = await screen.findByTestId('tile-checkout');
    expect(screen.getByTestId('tile-checkout-value')).toHaveTextContent('3 held');
    expect(checkout).toHaveTextContent('97 confirmed · 4 expired · 1 cancelled · 5 waiting · 2 units re-offered');
    const hooks = await screen.findByTestId('tile-webhooks');
    expect(screen.getByTestId('tile-webhooks-value')).toHaveTextContent('7 queued');
    expect(hooks).toHaveTextContent('oldest 1m 15s · 120 delivered · 1 retrying');
    expect(hooks).toHaveClass('tile--warn');
  });

  it('shows the waiting room of a sale with a queue, from the status, else the metrics’ sale', async () => {
    const queue = ADMITTING_QUEUE;
    mockFetch((url) => {
      if (url.endsWith('/status')) return json({}, 503);
      if (url.endsWith('/health')) return json(HEALTH);
      return json({ ...metricsBody(1), sale: { ...OPEN_STATUS, queue } });
    });
    render(<Dashboard pollMs={30} />);
    await waitFor(() => expect(screen.getByTestId('tile-waiting-room-wait')).toHaveTextContent('wait 4m 15s'));
    expect(screen.getByTestId('tile-waiting-room')).toHaveTextContent('admitting · 2,000 in the queue · now serving 300');
  });

  it('has no checkout or webhook tile for a sale without checkout and a server without webhooks', async () => {
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(OPEN_STATUS);
      if (url.endsWith('/health')) return json(HEALTH);
      return json({ ...metricsBody(1), webhooks: null });
    });
    render(<Dashboard pollMs={30} />);
    await waitFor(() => expect(screen.getByTestId('tile-allocator')).toHaveTextContent('pid 4242'));
    expect(screen.queryByTestId('tile-checkout')).toBeNull();
    expect(screen.queryByTestId('tile-webhooks')).toBeNull();
    expect(screen.queryByTestId('tile-waiting-room')).toBeNull();
  });

  it('has no per-product table for a sale of one product', async () => {
    mockFetch((url) => (url.endsWith('/health') ? json(HEALTH) : json(metricsBody(1))));
    render(<Dashboard pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('tile-stock-value')).toHaveTextContent('37 / 100'));
    expect(screen.queryByTestId('product-stock-table')).not.toBeInTheDocument();
  });
});
