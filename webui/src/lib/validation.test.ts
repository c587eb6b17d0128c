import { describe, expect, it } from 'vitest';
import { userIdProblem } from './validation';

describe('userIdProblem', () => {
  it.each(['alice', 'user-123', 'Ünïcødé 名前', 'a'.repeat(64), 'x.y', '...'])('accepts %j', (id) => {
    expect(userIdProblem(id)).toBeNull();
  });

  it.each([
    ['', 'Enter'],
    [' alice', 'space'],
    ['alice ', 'space'],
    ['a'.repeat(65), '64'],
    ['.', '"."'],
    ['..', '"."'],
    ['a/b', '/'],
    ['a\\b', '/'],
    ['a\u0000b', 'printable'],
    ['a\u007fb', 'printable'],
  ])('refuses %j', (id, words) => {
    expect(userIdProblem(id)).toContain(words);
  });
});
