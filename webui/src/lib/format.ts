/** Small formatting helpers shared by the views. */

const pad2 = (value: number): string => String(value).padStart(2, '0');

/** "2d 03:04:05", "03:04:05" or "04:05" for a non-negative duration. */
export function formatCountdown(ms: number): string {
  const totalS = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(totalS / 86_400);
  const hours = Math.floor((totalS % 86_400) / 3600);
  const minutes = Math.floor((totalS % 3600) / 60);
  const seconds = totalS % 60;
  const clock = `${pad2(minutes)}:${pad2(seconds)}`;
  if (days > 0) return `${days}d ${pad2(hours)}:${clock}`;
  if (hours > 0) return `${pad2(hours)}:${clock}`;
  return clock;
}

/** "1h 02m", "3m 04s", "12s" for an uptime. */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days > 0) return `${days}d ${pad2(hours)}h`;
  if (hours > 0) return `${hours}h ${pad2(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad2(s % 60)}s`;
  return `${s}s`;
}

export function formatDateTime(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'medium',
  });
}

export function formatNumber(value: number, maxFractionDigits = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString(undefined, { maximumFractionDigits: maxFractionDigits });
}

export function formatPercent(ratio: number): string {
  if (!Number.isFinite(ratio)) return '–';
  return `${(ratio * 100).toFixed(1)}%`;
}

export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

export function formatBytes(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return `${formatNumber(value / 2 ** 20, 1)} MiB`;
}

/** A server's description ("the token has expired") as a sentence: "The token has expired." */
export function asSentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * A price in minor units (`priceCents`: cents for EUR, yen for JPY) in its currency:
 * formatPrice(4900, 'EUR') is "€49.00", formatPrice(1200, 'JPY') is "¥1,200". The
 * currency's own fraction digits say how many minor units make one (the API contract).
 * `locale`: the browser's unless given.
 */
export function formatPrice(minorUnits: number, currency: string, locale?: string): string {
  try {
    const digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
        .maximumFractionDigits ?? 2;
    return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(
      minorUnits / 10 ** digits,
    );
  } catch {
    // Not a well-formed code (the server sends three capitals): assume two digits, as most have.
    return `${currency} ${formatNumber(minorUnits / 100, 2)}`;
  }
}

/** "9:41": minutes and seconds left, rounded up (a hold never shows 0:00 while it lasts). */
export function formatLeft(leftMs: number): string {
  const seconds = Math.max(0, Math.ceil(leftMs / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
