/**
 * The server's rule for a user id, checked before sending so the shopper hears
 * about a typo at once (the server checks again and has the last word).
 */
export const USER_ID_MAX_CHARS = 64;

export function userIdProblem(userId: string): string | null {
  if (userId.length === 0) return 'Enter your user id.';
  if (userId.trim() !== userId) return 'Your user id cannot start or end with a space.';
  // The server counts the id after NFKC normalisation (fullwidth ａ is a).
  if ([...userId.normalize('NFKC')].length > USER_ID_MAX_CHARS) {
    return `Your user id can have at most ${USER_ID_MAX_CHARS} characters.`;
  }
  if (userId === '.' || userId === '..') return 'Your user id cannot be "." or "..".';
  if (userId.includes('/') || userId.includes('\\')) {
    return 'Your user id cannot contain "/" or "\\".';
  }
  if ([...userId].some(isControl)) {
    return 'Your user id can only contain printable characters.';
  }
  return null;
}

/** C0 controls, DEL and C1 controls are not printable. */
function isControl(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}
