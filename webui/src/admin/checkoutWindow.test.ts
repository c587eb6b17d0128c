import { describe, expect, it } from 'vitest';
import { checkoutOf, describeWindow, formatSeconds, NO_CHECKOUT } from './checkoutWindow';

describe('checkoutOf', () => {
  it('sends nothing when both fields are empty: no checkout', () => {
    expect(checkoutOf(NO_CHECKOUT)).toBeUndefined();
    expect(checkoutOf({ hold: '  ', extension: '', unit: 'seconds' })).toBeUndefined();
  });

  it('converts minutes to whole seconds, the extension 0 when left empty', () => {
    expect(checkoutOf({ hold: '10', extension: '5', unit: 'minutes' })).toEqual({
      holdSeconds: 600,
      extendSeconds: 300,
    });
    expect(checkoutOf({ hold: '1.5', extension: '', unit: 'minutes' })).toEqual({
      holdSeconds: 90,
      extendSeconds: 0,
    });
    expect(checkoutOf({ hold: '0,5', extension: '', unit: 'minutes' })).toEqual({
      holdSeconds: 30,
      extendSeconds: 0,
    });
  });

  it('takes seconds as typed', () => {
    expect(checkoutOf({ hold: '45', extension: '15', unit: 'seconds' })).toEqual({
      holdSeconds: 45,
      extendSeconds: 15,
    });
  });

  it('sends what is not a number as typed, and an extension alone without holdSeconds, for the server to name', () => {
    expect(checkoutOf({ hold: 'ten', extension: '', unit: 'minutes' })).toEqual({
      holdSeconds: 'ten',
      extendSeconds: 0,
    });
    expect(checkoutOf({ hold: '1.5', extension: '', unit: 'seconds' })).toEqual({
      holdSeconds: '1.5',
      extendSeconds: 0,
    });
    expect(checkoutOf({ hold: '', extension: '5', unit: 'minutes' })).toEqual({ extendSeconds: 300 });
  });
});

describe('describeWindow', () => {
  it('says the hold and its extension in the largest units', () => {
    expect(describeWindow({ holdSeconds: 600, extendSeconds: 300 })).toBe('10 min, extendable once by 5 min');
    expect(describeWindow({ holdSeconds: 90, extendSeconds: 0 })).toBe('1 min 30 s, not extendable');
    expect(describeWindow(null)).toBe('none (a purchase is final)');
  });

  it('formats seconds', () => {
    expect(formatSeconds(3600)).toBe('1 h');
    expect(formatSeconds(3725)).toBe('1 h 2 min 5 s');
    expect(formatSeconds(45)).toBe('45 s');
    expect(formatSeconds(0)).toBe('0 s');
  });
});
