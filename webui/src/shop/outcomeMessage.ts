import { asSentence, formatDateTime } from '../lib/format';
import type { PurchaseOutcome, SaleProduct } from '../lib/types';
import { productName } from './catalogue';

export type Tone = 'success' | 'info' | 'warning' | 'error';

export interface OutcomeMessage {
  tone: Tone;
  title: string;
  body: string;
}

/** The catalogue the messages name products from; `several`: the shopper chose one. */
export interface OutcomeContext {
  products: readonly SaleProduct[];
  several: boolean;
}

const NO_CATALOGUE: OutcomeContext = { products: [], several: false };

/**
 * The words the shopper reads for each answer of the purchase endpoint. Products are
 * named as the catalogue names them, else by sku; answers of older servers name none.
 */
export function outcomeMessage(
  outcome: PurchaseOutcome,
  context: OutcomeContext = NO_CATALOGUE,
): OutcomeMessage {
  const nameOf = (sku: string | undefined) => productName(context.products, sku);
  switch (outcome.kind) {
    case 'confirmed': {
      const name = nameOf(outcome.order.sku);
      const line = `number ${outcome.order.position} in line. Order ${outcome.order.orderId}.`;
      return {
        tone: 'success',
        title: 'Order confirmed!',
        body: name ? `${name} is yours: you were ${line}` : `It's yours: you were ${line}`,
      };
    }
    case 'held': {
      const name = nameOf(outcome.hold.order.sku);
      return {
        tone: 'success',
        title: 'You got one!',
        body: `${name ?? 'It'} is held for you: pay in the checkout before the time runs out.`,
      };
    }
    case 'already_purchased': {
      const name = nameOf(outcome.order?.sku);
      const what = name ? ` for ${name}` : '';
      return {
        tone: 'info',
        title: 'You already bought this item',
        body: outcome.order
          ? `You hold as many as this sale allows one shopper. Your order ${outcome.order.orderId}${what} (number ${outcome.order.position} in line) stands.`
          : outcome.detail || 'You hold as many as this sale allows one shopper.',
      };
    }
    case 'sold_out': {
      const name = nameOf(outcome.sku);
      if (outcome.waitlist?.open) {
        return {
          tone: 'warning',
          title: 'Sold out, for now',
          body: `${name ?? 'Every unit'} is held by other shoppers until they pay. Join the waitlist in the checkout: if a hold runs out, the next in line gets it.`,
        };
      }
      return {
        tone: 'warning',
        title: 'Sold out',
        body:
          name && context.several
            ? `${name} has sold out. Others may still be in stock: choose another above.`
            : 'Every item has been sold. Thanks for trying!',
      };
    }
    case 'unknown_product':
      return {
        tone: 'warning',
        title: 'No longer on sale',
        body: `${nameOf(outcome.sku) ?? 'That product'} is no longer on sale; nothing was bought. Choose from what is shown now.`,
      };
    case 'not_started':
      return {
        tone: 'info',
        title: 'The sale has not started yet',
        body: outcome.startsAt
          ? `It opens ${formatDateTime(outcome.startsAt)}. Try again when the countdown ends.`
          : 'Try again when the countdown ends.',
      };
    case 'ended':
      return {
        tone: 'warning',
        title: 'The sale has ended',
        body: 'Orders are no longer taken for this sale.',
      };
    case 'rate_limited':
      return {
        tone: 'warning',
        title: 'Too many attempts',
        body: `Please wait ${seconds(outcome.retryAfterS)} before trying again.`,
      };
    case 'unavailable':
      return {
        tone: 'warning',
        title: 'The shop is very busy',
        body: `Your order was not taken. Please try again in ${seconds(outcome.retryAfterS)}.`,
      };
    case 'paused':
      return {
        tone: 'warning',
        title: 'The sale is paused',
        body: 'The sale is paused by the organiser; nothing was bought. Buy is back as soon as it resumes.',
      };
    case 'pending':
      return {
        tone: 'info',
        title: 'Your order is being processed',
        body: outcome.userId
          ? `We are checking the outcome for "${outcome.userId}"; this takes a moment.`
          : 'We are checking its outcome; this takes a moment.',
      };
    case 'invalid':
      return {
        tone: 'error',
        title: 'Check your user id',
        body: outcome.detail || 'That user id cannot be used.',
      };
    case 'unauthorized':
      return {
        tone: 'warning',
        title: 'Sign in to the shop to buy',
        body: `Your order was not taken. ${asSentence(outcome.detail)}`,
      };
    case 'not_admitted':
      return {
        tone: 'warning',
        title: 'Not your turn to buy',
        body: `Your order was not taken: buying needs your turn in the queue.${outcome.detail ? ` ${asSentence(outcome.detail)}` : ''}`,
      };
    case 'forbidden':
      return {
        tone: 'error',
        title: 'This purchase was refused',
        body: `Your order was not taken. ${asSentence(outcome.detail)}`,
      };
    case 'error':
      return {
        tone: 'error',
        title: 'Something went wrong',
        body: `${outcome.detail} Your order was not confirmed; please try again.`,
      };
  }
}

function seconds(count: number): string {
  return count === 1 ? '1 second' : `${count} seconds`;
}
