/**
 * The sale form's payment window: the operator types a hold and an extension in seconds
 * or minutes; the API takes `checkout: {holdSeconds, extendSeconds}` (absent: no checkout,
 * a purchase is final). And a window as the sale's summary says it.
 */
import type { SaleResource } from '../lib/types';

export type WindowUnit = 'minutes' | 'seconds';

export interface CheckoutDraft {
  /** Empty: no checkout window. */
  hold: string;
  /** Empty: not extendable (0). */
  extension: string;
  unit: WindowUnit;
}

export const NO_CHECKOUT: CheckoutDraft = { hold: '', extension: '', unit: 'minutes' };

/** A number of `unit` as whole seconds; text that is not a number is sent as typed, for
 * the server to name the field. */
function seconds(text: string, unit: WindowUnit): number | string {
  const trimmed = text.trim().replace(',', '.');
  if (unit === 'seconds') return /^\d+$/.test(trimmed) ? Number(trimmed) : text;
  return /^\d+(\.\d+)?$/.test(trimmed) ? Math.round(Number(trimmed) * 60) : text;
}

/** The `checkout` member of a new sale, or undefined (not sent: no window). An extension
 * without a window is sent without its holdSeconds, which the server refuses by name. */
export function checkoutOf(draft: CheckoutDraft): Record<string, number | string> | undefined {
  const hold = draft.hold.trim();
  const extension = draft.extension.trim();
  if (!hold && !extension) return undefined;
  return {
    ...(hold ? { holdSeconds: seconds(hold, draft.unit) } : {}),
    extendSeconds: extension ? seconds(extension, draft.unit) : 0,
  };
}

/** 600 -> "10 min", 90 -> "1 min 30 s", 3600 -> "1 h", 45 -> "45 s". */
export function formatSeconds(total: number): string {
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  const parts = [
    hours ? `${hours} h` : '',
    minutes ? `${minutes} min` : '',
    rest || total === 0 ? `${rest} s` : '',
  ];
  return parts.filter(Boolean).join(' ');
}

/** A sale's payment window in words, or "none" (a purchase is final). */
export function describeWindow(checkout: SaleResource['checkout']): string {
  if (!checkout) return 'none (a purchase is final)';
  const hold = formatSeconds(checkout.holdSeconds);
  return checkout.extendSeconds > 0
    ? `${hold}, extendable once by ${formatSeconds(checkout.extendSeconds)}`
    : `${hold}, not extendable`;
}
