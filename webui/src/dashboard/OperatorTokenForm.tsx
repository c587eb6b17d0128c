import { useState, type FormEvent } from 'react';
import type { TokenNeed } from './useDashboardData';

/** Asked once: the server shows its figures (pids, CPU, memory) to operators only. */
export function OperatorTokenForm({
  need,
  onToken,
}: {
  need: Exclude<TokenNeed, null>;
  onToken: (token: string) => void;
}) {
  const [token, setToken] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onToken(token.trim());
  };
  return (
    <form className="card form token-form" onSubmit={submit} data-testid="operator-token-form">
      <p role={need === 'wrong' ? 'alert' : undefined}>
        {need === 'wrong'
          ? 'That operator token was refused. Try again.'
          : 'This server shows its figures to operators only.'}
      </p>
      <label htmlFor="operator-token">Operator token</label>
      <div className="form__row">
        <input
          id="operator-token"
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(event) => setToken(event.target.value)}
        />
        <button type="submit" className="button">
          Show figures
        </button>
      </div>
      <p className="hint">Kept for this tab only (FLASHSALE_OPERATOR_TOKEN on the server).</p>
    </form>
  );
}
