import { useCallback, useState } from 'react';
import { listSales, type AdminProblem } from '../lib/adminApi';
import { rememberAdminToken, rememberedAdminToken } from '../lib/storage';
import type { SaleResource } from '../lib/types';
import { usePoller } from '../lib/usePoller';
import { AdminSignIn } from './AdminSignIn';
import { AuditTrail } from './AuditTrail';
import { OrdersPanel } from './OrdersPanel';
import { ProblemMessage } from './ProblemMessage';
import { SaleControls } from './SaleControls';
import { SaleForm } from './SaleForm';
import { SalesTable } from './SalesTable';

/** How often the sales (their sold counts, a state reached by the clock) are read again. */
export const SALES_POLL_MS = 5000;

/**
 * The operator's page (FLASHSALE_ADMIN_TOKEN): the current sale and its controls, a new
 * sale, every sale with its orders and their CSV, and the audit trail.
 */
export function Admin({ pollMs = SALES_POLL_MS }: { pollMs?: number }) {
  const [token, setToken] = useState<string | null>(() => rememberedAdminToken());
  const [signingIn, setSigningIn] = useState<string | null>(null);
  const [refused, setRefused] = useState<AdminProblem | null>(null);
  const [sales, setSales] = useState<SaleResource[] | null>(null);
  const [problem, setProblem] = useState<AdminProblem | null>(null);
  const [chosen, setChosen] = useState<number | null>(null);
  const [actions, setActions] = useState(0);
  const [reads, setReads] = useState(0);

  const signOut = useCallback((why: AdminProblem | null) => {
    rememberAdminToken(null);
    setToken(null);
    setSales(null);
    setRefused(why);
  }, []);

  /** Reads the sales with `using`; a refused token signs out, showing the problem. */
  const readSales = useCallback(
    async (using: string): Promise<boolean> => {
      const answer = await listSales(using);
      if (answer.ok) {
        setSales(answer.value.sales);
        setReads((count) => count + 1);
        setProblem(null);
        return true;
      }
      if (answer.problem.status === 401) signOut(answer.problem);
      else setProblem(answer.problem);
      return false;
    },
    [signOut],
  );

  const poll = useCallback(async () => (token ? readSales(token) : true), [token, readSales]);
  const refresh = usePoller(poll, pollMs, token !== null);

  async function signIn(candidate: string) {
    setSigningIn(candidate);
    const answer = await listSales(candidate);
    setSigningIn(null);
    if (!answer.ok) {
      setRefused(answer.problem);
      return;
    }
    rememberAdminToken(candidate);
    setRefused(null);
    setSales(answer.value.sales);
    setToken(candidate);
  }

  const acted = useCallback(() => {
    setActions((count) => count + 1);
    refresh();
  }, [refresh]);

  const onMade = useCallback(
    (sale: SaleResource) => {
      setChosen(sale.saleId);
      acted();
    },
    [acted],
  );

  const onRefused = useCallback(
    (refusal: AdminProblem) => {
      if (refusal.status === 401) signOut(refusal);
      else acted(); // refusals are audited too; a 412 means the sale changed: read it again
    },
    [acted, signOut],
  );

  if (!token) {
    return (
      <div className="admin">
        <header className="dashboard__head">
          <h1>Admin</h1>
        </header>
        <AdminSignIn refused={refused} busy={signingIn !== null} onToken={(value) => void signIn(value)} />
      </div>
    );
  }

  const current = sales?.[0] ?? null;
  const shownOrders = chosen ?? current?.saleId ?? null;
  const ordersOf = sales?.find((listed) => listed.saleId === shownOrders);
  // A checkout sale's holds are confirmed or expire without its sold count moving: its
  // page of orders is read again with every read of the sales.
  const holds = Boolean(ordersOf?.checkout);

  return (
    <div className="admin">
      <header className="dashboard__head admin__head">
        <div>
          <h1>Admin</h1>
          <p className="hint">Runs the sales of this server. Every action is audited.</p>
        </div>
        <button type="button" className="button button--small" onClick={() => signOut(null)}>
          Sign out
        </button>
      </header>
      {problem ? <ProblemMessage problem={problem} testId="admin-problem" /> : null}
      {sales === null ? <p className="hint">Loading the sales…</p> : null}
      <div className="admin__top">
        {current ? (
          <SaleControls
            key={current.saleId}
            token={token}
            sale={current}
            onChanged={acted}
            onRefused={onRefused}
          />
        ) : null}
        <SaleForm token={token} onMade={onMade} onRefused={onRefused} />
      </div>
      {sales ? <SalesTable sales={sales} chosen={shownOrders} onChoose={setChosen} /> : null}
      {shownOrders !== null ? (
        <OrdersPanel
          key={shownOrders}
          token={token}
          saleId={shownOrders}
          sold={ordersOf?.sold}
          checkout={holds}
          refreshKey={holds ? reads : undefined}
        />
      ) : null}
      <AuditTrail token={token} refreshKey={actions} />
    </div>
  );
}
