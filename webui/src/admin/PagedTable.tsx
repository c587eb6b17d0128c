import type { ReactNode } from 'react';
import { Pager } from './Pager';
import { ProblemMessage } from './ProblemMessage';
import type { Pages } from './usePages';

/**
 * The frame of a cursor-paged table: the read's problem, "loading" until the first page,
 * a hint when the list is empty, else the table (scrolling sideways on a narrow screen)
 * and its Pager. The caller gives the header row and how an item is a row.
 */
export function PagedTable<T>({
  pages,
  label,
  head,
  row,
  loading,
  empty,
  tableTestId,
  problemTestId,
  emptyTestId,
}: {
  pages: Pages<T>;
  /** Names the Pager ("<label> pages"). */
  label: string;
  /** The header row's cells. */
  head: ReactNode;
  /** One item as a <tr>, with its key. */
  row: (item: T) => ReactNode;
  loading: string;
  empty: string;
  tableTestId: string;
  problemTestId: string;
  emptyTestId?: string;
}) {
  return (
    <>
      {pages.problem ? <ProblemMessage problem={pages.problem} testId={problemTestId} /> : null}
      {pages.items === null ? (
        <p className="hint">{loading}</p>
      ) : pages.items.length === 0 && pages.number === 1 ? (
        <p className="hint" data-testid={emptyTestId}>
          {empty}
        </p>
      ) : (
        <>
          <div className="table-scroll">
            <table className="table" data-testid={tableTestId}>
              <thead>
                <tr>{head}</tr>
              </thead>
              <tbody>{pages.items.map(row)}</tbody>
            </table>
          </div>
          <Pager pages={pages} label={label} />
        </>
      )}
    </>
  );
}
