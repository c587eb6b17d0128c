import type { ReactNode } from 'react';
import type { AdminProblem } from '../lib/adminApi';
import { Message } from '../shop/Message';

/** A refusal as the server said it: its title, its detail, and its status and type. */
export function ProblemMessage({
  problem,
  testId,
  children,
}: {
  problem: AdminProblem;
  testId?: string;
  children?: ReactNode;
}) {
  return (
    <div role="alert" className="outcome">
      <Message tone="error" title={problem.title} testId={testId} kind={problem.type || undefined}>
        <p>{problem.detail}</p>
        {problem.status ? (
          <p className="hint">
            {problem.status}
            {problem.type ? ` · ${problem.type}` : ''}
          </p>
        ) : null}
        {children}
      </Message>
    </div>
  );
}
