import { formatNumber, formatUptime } from '../lib/format';
import type { Sale } from '../lib/types';
import type { components } from '../lib/api.generated';
import { Tile } from './Tile';

type Webhooks = components['schemas']['Webhooks'];

/**
 * A sale with checkout: units held and paid for, holds that expired or were cancelled,
 * and its waitlists (from the status the shoppers' pages get, or the metrics' sale);
 * `offers` counts the units that came back to a waitlist.
 */
export function CheckoutTile({ sale }: { sale: Sale | null }) {
  if (!sale?.checkout) return null;
  const held = sale.held ?? 0;
  const confirmed = Math.max(0, sale.sold - held);
  const waiting = sale.waitlist ?? 0;
  return (
    <Tile
      title="Checkout"
      testId="tile-checkout"
      tone={held > 0 ? 'warn' : 'good'}
      value={`${formatNumber(held)} held`}
    >
      <span data-testid="tile-checkout-confirmed">{formatNumber(confirmed)} confirmed</span>
      {' · '}
      <span data-testid="tile-checkout-expired">{formatNumber(sale.expired ?? 0)} expired</span>
      {' · '}
      <span data-testid="tile-checkout-cancelled">{formatNumber(sale.cancelled ?? 0)} cancelled</span>
      {' · '}
      <span data-testid="tile-checkout-waitlist">{formatNumber(waiting)} waiting</span>
      {' · '}
      <span data-testid="tile-checkout-offers">
        {formatNumber(sale.offers ?? 0)} {sale.offers === 1 ? 'unit' : 'units'} re-offered
      </span>
    </Tile>
  );
}

/** The webhook sender: its backlog and how old the oldest undelivered event is. */
export function WebhooksTile({ webhooks }: { webhooks: Webhooks | undefined }) {
  if (!webhooks) return null;
  const { backlog, retrying, oldestUndeliveredAgeSeconds: oldest, deliveries } = webhooks;
  const tone = !webhooks.alive || deliveries.gaveUp > 0 ? 'bad' : oldest > 60 || retrying > 0 ? 'warn' : 'good';
  return (
    <Tile title="Webhooks" testId="tile-webhooks" tone={tone} value={`${formatNumber(backlog)} queued`}>
      {webhooks.alive ? '' : 'sender down · '}
      {oldest > 0 ? `oldest ${formatUptime(oldest)} · ` : ''}
      {formatNumber(deliveries.delivered)} delivered
      {retrying > 0 ? ` · ${formatNumber(retrying)} retrying` : ''}
      {deliveries.gaveUp > 0 ? ` · ${formatNumber(deliveries.gaveUp)} given up` : ''}
    </Tile>
  );
}
