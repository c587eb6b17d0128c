import type { ReactNode } from 'react';

/** One figure of the dashboard's top row: a title, a value and a line of detail, in a tone. */
export type TileTone = 'good' | 'warn' | 'bad' | 'neutral' | 'unknown';

export function Tile({
  title,
  value,
  tone,
  children,
  testId,
}: {
  title: string;
  value: string;
  tone: TileTone;
  children: ReactNode;
  testId: string;
}) {
  return (
    <section className={`tile tile--${tone}`} data-testid={testId} aria-label={title}>
      <h2 className="tile__title">{title}</h2>
      <p className="tile__value" data-testid={`${testId}-value`}>
        {value}
      </p>
      <p className="tile__sub">{children}</p>
    </section>
  );
}
