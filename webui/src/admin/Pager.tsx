import type { Pages } from './usePages';

/** Previous / Next for a cursor-paged list, with the page's number. */
export function Pager<T>({ pages, label }: { pages: Pages<T>; label: string }) {
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button
        type="button"
        className="button button--small"
        onClick={pages.previous}
        disabled={pages.number <= 1 || pages.loading}
      >
        Previous
      </button>
      <span className="pager__where" aria-live="polite">
        Page {pages.number}
      </span>
      <button
        type="button"
        className="button button--small"
        onClick={pages.next}
        disabled={!pages.hasNext || pages.loading}
      >
        Next
      </button>
    </nav>
  );
}
