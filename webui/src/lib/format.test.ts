import { describe, expect, it } from 'vitest';
import { formatCountdown, formatMs, formatPercent, formatPrice, formatUptime } from './format';

describe('formatCountdown', () => {
  it.each([
    [0, '00:00'],
    [-5000, '00:00'],
    [1, '00:01'],
    [59_001, '01:00'],
    [3_600_000, '01:00:00'],
    [3_723_000, '01:02:03'],
    [90_061_000, '1d 01:01:01'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatCountdown(ms)).toBe(text);
  });
});

describe('other formats', () => {
  it('formats uptime, percentages and latencies', () => {
    expect(formatUptime(12.7)).toBe('12s');
    expect(formatUptime(125)).toBe('2m 05s');
    expect(formatUptime(3725)).toBe('1h 02m');
    expect(formatPercent(0.5)).toBe('50.0%');
    expect(formatMs(3.14159)).toBe('3.1 ms');
    expect(formatMs(42.6)).toBe('43 ms');
  });
});

describe('formatPrice', () => {
  it.each([
    [4900, 'EUR', '€49.00'],
    [1999, 'EUR', '€19.99'],
    [1200, 'JPY', '¥1,200'],
    [0, 'JPY', '¥0'],
    [1999, 'USD', '$19.99'],
    [123456, 'USD', '$1,234.56'],
  ])('%i minor units of %s is %s', (minorUnits, currency, text) => {
    expect(formatPrice(minorUnits, currency, 'en-US')).toBe(text);
  });

  it("counts minor units by the currency's own digits, in the shopper's locale", () => {
    // The Kuwaiti dinar has three digits; a German shopper reads a comma. (Intl puts a
    // no-break space between figure and code.)
    const spaced = (text: string) => text.replace(/\s/g, ' ');
    expect(spaced(formatPrice(1500, 'KWD', 'en-US'))).toBe('KWD 1.500');
    expect(spaced(formatPrice(4900, 'EUR', 'de-DE'))).toBe('49,00 €');
    expect(formatPrice(4900, 'EUR', 'en-GB')).toBe('€49.00');
  });

  it('still names a price whose currency code is malformed', () => {
    expect(formatPrice(4900, 'euro')).toBe('euro 49');
  });
});
