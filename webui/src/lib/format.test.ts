import { describe, expect, it } from 'vitest';
import { formatCountdown, formatMs, formatPercent, formatUptime } from './format';

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
