import { useState, type FormEvent } from 'react';
import type { AdminProblem } from '../lib/adminApi';
import { ProblemMessage } from './ProblemMessage';

/** The admin token, asked once a tab (FLASHSALE_ADMIN_TOKEN): a refusal shows its problem. */
export function AdminSignIn({
  refused,
  busy,
  onToken,
}: {
  refused: AdminProblem | null;
  busy: boolean;
  onToken: (token: string) => void;
}) {
  const [token, setToken] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onToken(token.trim());
  };
  return (
    <form className="card form token-form" onSubmit={submit} data-testid="admin-sign-in">
      <h2>Sign in</h2>
      <p>The admin page starts, pauses and ends sales, and shows their orders.</p>
      <label htmlFor="admin-token">Admin token</label>
      <div className="form__row">
        <input
          id="admin-token"
          type="password"
          autoComplete="current-password"
          value={token}
          aria-invalid={refused !== null}
          aria-describedby="admin-token-hint"
          onChange={(event) => setToken(event.target.value)}
        />
        <button type="submit" className="button button--primary" disabled={busy} aria-busy={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </div>
      <p id="admin-token-hint" className="hint">
        Kept for this tab only (FLASHSALE_ADMIN_TOKEN on the server).
      </p>
      {refused ? <ProblemMessage problem={refused} testId="sign-in-problem" /> : null}
    </form>
  );
}
