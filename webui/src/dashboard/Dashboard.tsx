import { formatBytes, formatMs, formatNumber, formatPercent, formatUptime } from '../lib/format';
import { Freshness } from '../lib/Freshness';
import { OUTCOME_KINDS, type BreakerState } from '../lib/types';
import { useLiveStatus } from '../lib/useLiveStatus';
import { AdminActionsTable } from './AdminActionsTable';
import { CheckoutTile, WebhooksTile } from './CheckoutTiles';
import { LineChart, type ChartSeries } from './LineChart';
import { OperatorTokenForm } from './OperatorTokenForm';
import { OutcomesTable } from './OutcomesTable';
import { ProductStock } from './ProductStock';
import { QueueTile } from './QueueTile';
import { StoreTile } from './StoreTile';
import { OUTCOME_STYLE } from './outcomeStyle';
import { HISTORY_SAMPLES, PERCENTILES, latencySeries, outcomeRates, processLoads } from './series';
import { Tile } from './Tile';
import { DASHBOARD_POLL_MS, useDashboardData } from './useDashboardData';

const MIN_CHART_SLOTS = 10;
const PERCENTILE_COLORS = { p50: '#1c7ed6', p95: '#f08c00', p99: '#e03131' } as const;

const BREAKER_TEXT: Record<BreakerState, string> = {
  closed: 'closed',
  open: 'open (shedding load)',
  half_open: 'half-open (probing)',
};

const formatRate = (value: number) => `${formatNumber(value, 1)}/s`;

export function Dashboard({ pollMs = DASHBOARD_POLL_MS }: { pollMs?: number }) {
  const { samples, health, problem, tokenNeed, giveToken } = useDashboardData(pollMs);
  // Stock and breaker state as the shoppers' pages get them: pushed, else polled.
  const live = useLiveStatus(pollMs);
  const latest = samples.at(-1)?.metrics ?? null;
  const rates = outcomeRates(samples);
  const latency = latencySeries(samples);
  // Stretch a short history over the width until the full minute is there.
  const slots = Math.min(HISTORY_SAMPLES - 1, Math.max(MIN_CHART_SLOTS, samples.length - 1));

  const rateSeries: ChartSeries[] = OUTCOME_KINDS.map((kind) => ({
    key: kind,
    label: OUTCOME_STYLE[kind].label,
    color: OUTCOME_STYLE[kind].color,
    values: rates[kind],
  }));
  const latencyChart: ChartSeries[] = PERCENTILES.map((key) => ({
    key,
    label: key,
    color: PERCENTILE_COLORS[key],
    values: latency[key],
  }));

  const allocator = latest?.allocator ?? health?.allocator ?? null;
  const breaker = latest?.breaker ?? health?.breaker ?? null;
  const breakerState = live.status?.breaker ?? breaker?.state ?? null;
  const workers = latest?.workers ?? health?.workers ?? null;
  const journal = latest?.journal ?? health?.journal ?? null;
  const engine = latest?.engine ?? health?.engine ?? null;
  const problems = health?.problems ?? [];
  const sale = live.status ?? latest?.sale ?? null;
  const shownProblem = problem ?? live.problem;
  // Health lists the processes too: their memory shows before the metrics' first sample.
  const sampled = processLoads(samples);
  const processes =
    sampled.length > 0 ? sampled : (health?.processes ?? []).map((process) => ({ ...process, cores: null }));
  const saleFigures = latest?.currentSale ?? null;
  // A sale without a decided purchase yet has no success rate (the server says 0).
  const saleDecided = saleFigures
    ? Object.entries(saleFigures.outcomes).some(([kind, count]) => kind !== 'invalid' && count > 0)
    : false;
  const queueRatio =
    latest && latest.queueCapacity > 0 ? latest.queueDepth / latest.queueCapacity : 0;

  return (
    <div className="dashboard">
      <div className="dashboard__head">
        <h1>Operator dashboard</h1>
        <p className="hint">
          <span>Metrics and health every second. Stock and breaker state:</span>
          <Freshness mode={live.mode} what="Stock and breaker state" />
        </p>
      </div>
      {tokenNeed ? <OperatorTokenForm need={tokenNeed} onToken={giveToken} /> : null}
      {shownProblem ? (
        <p className="live-problem" role="alert" data-testid="dashboard-problem">
          Live updates interrupted: {shownProblem} Retrying…
        </p>
      ) : null}

      <div className="tiles">
        <Tile
          title="Health"
          testId="tile-health"
          tone={health ? (health.status === 'ok' ? 'good' : 'bad') : 'unknown'}
          value={health ? (health.status === 'ok' ? 'OK' : 'Unhealthy') : '–'}
        >
          {problems.length > 0
            ? problems.join('; ')
            : health?.uptimeSeconds !== undefined
              ? `up ${formatUptime(health.uptimeSeconds)}`
              : health
                ? 'detail for operators'
                : 'waiting…'}
        </Tile>
        <StoreTile journal={journal} engine={engine} />
        <Tile
          title="Allocator"
          testId="tile-allocator"
          tone={allocator ? (allocator.alive ? 'good' : 'bad') : 'unknown'}
          value={allocator ? (allocator.alive ? 'Alive' : 'Down') : '–'}
        >
          {allocator
            ? `pid ${allocator.pid ?? '–'} · heartbeat ${allocator.heartbeatAgeMs === null ? '–' : formatMs(allocator.heartbeatAgeMs)} · ${allocator.restarts} restarts`
            : 'waiting…'}
        </Tile>
        <Tile
          title="Circuit breaker"
          testId="tile-breaker"
          tone={breakerState ? (breakerState === 'closed' ? 'good' : breakerState === 'open' ? 'bad' : 'warn') : 'unknown'}
          value={breakerState ? BREAKER_TEXT[breakerState] : '–'}
        >
          {breaker
            ? `${breaker.trips} ${breaker.trips === 1 ? 'trip' : 'trips'}${breaker.state !== 'closed' && breaker.lastReason ? ` · ${breaker.lastReason}` : ''}`
            : 'waiting…'}
        </Tile>
        <Tile
          title="Queue depth"
          testId="tile-queue"
          tone={queueRatio > 0.8 ? 'bad' : queueRatio > 0.5 ? 'warn' : 'good'}
          value={latest ? formatNumber(latest.queueDepth) : '–'}
        >
          {latest ? `of ${formatNumber(latest.queueCapacity)} slots · ` : 'waiting…'}
          {latest ? (
            <span data-testid="tile-queue-peak">
              peak {formatNumber(latest.queueHighWater)}
              {saleFigures ? ` · this sale ${formatNumber(saleFigures.queueHighWater)}` : ''}
            </span>
          ) : null}
        </Tile>
        <Tile
          title="Stock"
          testId="tile-stock"
          tone={sale ? (sale.remaining > 0 ? 'good' : 'warn') : 'unknown'}
          value={sale ? `${formatNumber(sale.remaining)} / ${formatNumber(sale.total)}` : '–'}
        >
          {sale ? `${formatNumber(sale.sold)} sold · ${sale.state.replace('_', ' ')}` : 'waiting…'}
        </Tile>
        <QueueTile queue={sale?.queue} />
        <CheckoutTile sale={sale} />
        <WebhooksTile webhooks={latest?.webhooks ?? undefined} />
        <Tile
          title="Workers"
          testId="tile-workers"
          tone={workers ? (workers.alive >= workers.configured ? 'good' : 'warn') : 'unknown'}
          value={workers ? `${workers.alive} / ${workers.configured}` : '–'}
        >
          alive / configured
          {latest?.openEventStreams !== undefined &&
            ` · ${formatNumber(latest.openEventStreams)} live ${latest.openEventStreams === 1 ? 'page' : 'pages'}`}
        </Tile>
        <Tile
          title="Requests"
          testId="tile-requests"
          tone="neutral"
          value={latest ? formatNumber(latest.requests.total) : '–'}
        >
          {latest ? `${formatNumber(latest.requests.purchase)} purchases · ${formatRate(latest.throughput.requestsPerSecond)}` : 'waiting…'}
        </Tile>
        <Tile
          title={saleFigures ? 'Success rate, this sale' : 'Success rate'}
          testId="tile-success"
          tone="neutral"
          value={
            !latest
              ? '–'
              : !saleFigures
                ? formatPercent(latest.successRate)
                : saleDecided
                  ? formatPercent(saleFigures.successRate)
                  : 'no purchase yet'
          }
        >
          {latest
            ? `${saleFigures ? `${formatPercent(latest.successRate)} since start · ` : ''}p99 ${formatMs(latest.latencyMs.p99)} · max ${formatMs(latest.latencyMs.max)}`
            : 'waiting…'}
        </Tile>
      </div>

      <ProductStock products={sale?.products ?? []} />

      <div className="charts">
        <section className="card">
          <LineChart
            title="Requests by outcome"
            unit="per second"
            series={rateSeries}
            slots={slots}
            formatValue={formatRate}
            testId="chart-rates"
          />
        </section>
        <section className="card">
          <LineChart
            title="Latency percentiles"
            unit="ms"
            series={latencyChart}
            slots={slots}
            formatValue={formatMs}
            testId="chart-latency"
          />
        </section>
      </div>

      <OutcomesTable metrics={latest} />

      <AdminActionsTable actions={latest?.adminActions} />

      {processes.length > 0 ? (
        <section className="card" aria-labelledby="processes-heading">
          <h2 id="processes-heading">Server processes</h2>
          <table className="table" data-testid="processes-table">
            <thead>
              <tr>
                <th scope="col">Process</th>
                <th scope="col" className="num">
                  CPU (% of a core)
                </th>
                <th scope="col" className="num">
                  CPU time
                </th>
                <th scope="col" className="num">
                  Memory
                </th>
              </tr>
            </thead>
            <tbody>
              {processes.map((process) => (
                <tr key={process.pid} data-testid={`process-${process.pid}`}>
                  <th scope="row">
                    {process.role} <span className="hint">pid {process.pid}</span>
                  </th>
                  <td className="num">{process.cores === null ? '–' : formatPercent(process.cores)}</td>
                  <td className="num">{formatNumber(process.cpuSeconds, 1)} s</td>
                  <td className="num">{formatBytes(process.residentBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}
