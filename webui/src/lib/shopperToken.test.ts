import { afterEach, describe, expect, it } from 'vitest';
import { fakeJwt, tokenFor } from '../test/tokens';
import { captureTokenFromAddress, offeredTokens, readCookie, tokenClaims } from './shopperToken';
import { rememberedShopperToken } from './storage';

afterEach(() => window.history.replaceState(null, '', '/'));

describe('captureTokenFromAddress', () => {
  it('keeps the token of a #token= link for this tab and removes it from the address', () => {
    const token = tokenFor('alice');
    window.history.replaceState(null, '', `/?ref=mail#token=${token}`);
    captureTokenFromAddress();
    expect(rememberedShopperToken()).toBe(token);
    expect(window.sessionStorage.getItem('flashsale.shopperToken')).toBe(token);
    expect(window.localStorage.length).toBe(0);
    expect(window.location.hash).toBe('');
    expect(window.location.href).not.toContain(token);
    expect(`${window.location.pathname}${window.location.search}`).toBe('/?ref=mail');
  });

  it('keeps the other hash parameters', () => {
    window.history.replaceState(null, '', `/#token=${tokenFor('bob')}&tab=2`);
    captureTokenFromAddress();
    expect(window.location.hash).toBe('#tab=2');
  });

  it('leaves any other hash alone, and keeps a token it already has', () => {
    const token = tokenFor('carol');
    window.sessionStorage.setItem('flashsale.shopperToken', token);
    window.history.replaceState(null, '', '/#main');
    captureTokenFromAddress();
    expect(window.location.hash).toBe('#main');
    expect(rememberedShopperToken()).toBe(token);
  });
});

describe('readCookie', () => {
  it('finds the named cookie among others, decoded', () => {
    document.cookie = 'other=1; path=/';
    document.cookie = `flashsale_token=${encodeURIComponent('a.b.c')}; path=/`;
    expect(readCookie('flashsale_token')).toBe('a.b.c');
    expect(readCookie('flashsale')).toBeNull();
  });
});

describe('offeredTokens', () => {
  it('offers the link token before the cookie, and neither without them', () => {
    expect(offeredTokens('shop_jwt')).toEqual([]);
    document.cookie = 'shop_jwt=from.the.cookie; path=/';
    expect(offeredTokens('shop_jwt')).toEqual(['from.the.cookie']);
    expect(offeredTokens(null)).toEqual([]);
    window.sessionStorage.setItem('flashsale.shopperToken', 'from.the.link');
    expect(offeredTokens('shop_jwt')).toEqual(['from.the.link', 'from.the.cookie']);
  });
});

describe('tokenClaims', () => {
  it('decodes sub and exp from a base64url payload, in UTF-8', () => {
    // "ö?>" and friends encode to the base64url-only characters - and _.
    const token = fakeJwt({ sub: 'jürgen ö?>~', exp: 2_000_000_000 });
    expect(token.split('.')[1]).toMatch(/[-_]/);
    expect(tokenClaims(token)).toEqual({ sub: 'jürgen ö?>~', expiresAtMs: 2_000_000_000_000 });
  });

  it.each([
    ['not a token', 'opaque'],
    ['no sub', fakeJwt({ exp: 2_000_000_000 })],
    ['no exp', fakeJwt({ sub: 'alice' })],
    ['a payload that is not JSON', 'eyJ.bm90IGpzb24.sig'],
    ['a payload that is not base64url', 'eyJ.*.sig'],
  ])('is null for %s', (_, token) => {
    expect(tokenClaims(token)).toBeNull();
  });
});
