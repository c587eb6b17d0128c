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
