import { useCallback, useEffect, useState } from 'react';
import type { AdminProblem, AdminResult } from '../lib/adminApi';

/** One page of a cursor-paged list, and how to move. The cursors of the pages before
 * are kept, so Previous goes back to exactly the page that was shown. */
export interface Pages<T> {
  items: readonly T[] | null;
  problem: AdminProblem | null;
  loading: boolean;
  /** 1-based. */
  number: number;
  hasNext: boolean;
  next: () => void;
  previous: () => void;
}

interface Read<P> {
  /** Which request it answers: the loader and cursor it was read with. */
  load: unknown;
  after: string | null;
  answer: AdminResult<P>;
}

/** `load` changes (a new useCallback) when the list must be read again. */
export function usePages<T, P extends { readonly next: string | null }>(
  load: (after: string | null) => Promise<AdminResult<P>>,
  itemsOf: (page: P) => readonly T[],
): Pages<T> {
  // cursors[i]: the `after` of page i+1 (null: the first page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [read, setRead] = useState<Read<P> | null>(null);
  const [shown, setShown] = useState<P | null>(null);
  const after = cursors[cursors.length - 1] ?? null;

  useEffect(() => {
    let live = true;
    void load(after).then((answer) => {
      if (!live) return;
      setRead({ load, after, answer });
      if (answer.ok) setShown(answer.value);
    });
    return () => {
      live = false;
    };
  }, [load, after]);

  const nextCursor = shown?.next ?? null;
  const next = useCallback(() => {
    if (nextCursor) setCursors((before) => [...before, nextCursor]);
  }, [nextCursor]);
  const previous = useCallback(
    () => setCursors((before) => (before.length > 1 ? before.slice(0, -1) : before)),
    [],
  );

  return {
    // The last page read stays shown while the next one loads.
    items: shown ? itemsOf(shown) : null,
    problem: read && !read.answer.ok ? read.answer.problem : null,
    loading: read === null || read.load !== load || read.after !== after,
    number: cursors.length,
    hasNext: nextCursor !== null,
    next,
    previous,
  };
}
