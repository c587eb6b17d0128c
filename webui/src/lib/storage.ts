/** The last user id typed, remembered so a returning shopper need not type it again. */
const USER_ID_KEY = 'flashsale.userId';

export function rememberedUserId(): string {
  try {
    return window.localStorage.getItem(USER_ID_KEY) ?? '';
  } catch {
    return '';
  }
}

export function rememberUserId(userId: string): void {
  try {
    window.localStorage.setItem(USER_ID_KEY, userId);
  } catch {
    // Private mode or storage disabled: remembering is a convenience only.
  }
}

/** The operator token, for this tab only: it guards the server's figures. */
const OPERATOR_TOKEN_KEY = 'flashsale.operatorToken';

export function rememberedOperatorToken(): string | null {
  try {
    return window.sessionStorage.getItem(OPERATOR_TOKEN_KEY);
  } catch {
    return null;
  }
}

export function rememberOperatorToken(token: string | null): void {
  try {
    if (token) window.sessionStorage.setItem(OPERATOR_TOKEN_KEY, token);
    else window.sessionStorage.removeItem(OPERATOR_TOKEN_KEY);
  } catch {
    // Storage disabled: the token then lasts as long as the page.
  }
}

/**
 * The shop's sign-in token from a `#token=` link, for this tab only: a token lasts
 * minutes, and localStorage would hand it to whoever uses the browser next.
 */
const SHOPPER_TOKEN_KEY = 'flashsale.shopperToken';

export function rememberedShopperToken(): string | null {
  try {
    return window.sessionStorage.getItem(SHOPPER_TOKEN_KEY);
  } catch {
    return null;
  }
}

/** False when storage is disabled. */
export function rememberShopperToken(token: string): boolean {
  try {
    window.sessionStorage.setItem(SHOPPER_TOKEN_KEY, token);
    return true;
  } catch {
    return false;
  }
}

/** The admin token, for this tab only: it runs the sales. */
const ADMIN_TOKEN_KEY = 'flashsale.adminToken';

export function rememberedAdminToken(): string | null {
  try {
    return window.sessionStorage.getItem(ADMIN_TOKEN_KEY);
  } catch {
    return null;
  }
}

export function rememberAdminToken(token: string | null): void {
  try {
    if (token) window.sessionStorage.setItem(ADMIN_TOKEN_KEY, token);
    else window.sessionStorage.removeItem(ADMIN_TOKEN_KEY);
  } catch {
    // Storage disabled: the token then lasts as long as the page.
  }
}
