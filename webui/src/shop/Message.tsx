import type { ReactNode } from 'react';
import type { Tone } from './outcomeMessage';

const ICONS: Record<Tone, string> = { success: '✓', info: 'i', warning: '!', error: '×' };

export function Message({
  tone,
  title,
  children,
  testId,
  kind,
}: {
  tone: Tone;
  title: string;
  children?: ReactNode;
  testId?: string;
  kind?: string;
}) {
  return (
    <div className={`message message--${tone}`} data-testid={testId} data-kind={kind}>
      <span className="message__icon" aria-hidden="true">
        {ICONS[tone]}
      </span>
      <div>
        <p className="message__title">{title}</p>
        {children ? <div className="message__body">{children}</div> : null}
      </div>
    </div>
  );
}
