/**
 * The admin API as the admin page uses it (Authorization: Bearer <FLASHSALE_ADMIN_TOKEN>):
 * every answer, network failures included, as a typed value. A refusal is the problem
 * the server sent (RFC 9457) with its extension members (`field`, `saleId`, `etag`...).
 */
import { API_BASE, REQUEST_TIMEOUT_MS } from './api';
import type { AuditPage, OrdersPage, ProblemType, SaleChange, SaleResource, SaleSpec } from './types';

export const ADMIN_BASE = `${API_BASE}/admin`;

export interface AdminProblem {
  /** The HTTP status; 0 when the server was not reached. */
  status: number;
  type: ProblemType | '';
  title: string;
  detail: string;
  /** Extension members the server adds (`field`, `saleId`, `state`, `etag`, ...). */
  extensions: Record<string, unknown>;
}

export type AdminResult<T> =
  | { ok: true; value: T; etag: string | null }
  | { ok: false; problem: AdminProblem };

const PROBLEM_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'instance']);

function networkProblem(error: unknown): AdminProblem {
  const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
  return {
    status: 0,
    type: '',
    title: 'Not reached',
    detail: timedOut ? 'The server did not answer in time.' : 'The server could not be reached.',
    extensions: {},
  };
}

async function problemOf(response: Response): Promise<AdminProblem> {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = await response.json();
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's page): the status says what is known.
  }
  const text = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : '');
  const extensions = Object.fromEntries(
    Object.entries(body).filter(([key]) => !PROBLEM_MEMBERS.has(key)),
  );
  return {
    status: response.status,
    type: text('type') as ProblemType | '',
    title: text('title') || `Answered ${response.status}`,
    detail: text('detail') || text('title') || `The server answered ${response.status}.`,
    extensions,
  };
}

interface Ask {
  method?: 'GET' | 'POST' | 'PATCH';
  body?: unknown;
  headers?: Record<string, string>;
}

async function adminFetch(token: string, path: string, ask: Ask): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    Authorization: `Bearer ${token}`,
    ...ask.headers,
  };
  if (ask.body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${ADMIN_BASE}${path}`, {
    method: ask.method ?? 'GET',
    headers,
    body: ask.body === undefined ? undefined : JSON.stringify(ask.body),
    cache: 'no-store',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

async function adminJson<T>(token: string, path: string, ask: Ask = {}): Promise<AdminResult<T>> {
  let response: Response;
  try {
    response = await adminFetch(token, path, ask);
  } catch (error) {
    return { ok: false, problem: networkProblem(error) };
  }
  if (!response.ok) return { ok: false, problem: await problemOf(response) };
  try {
    const value = (await response.json()) as T;
    return { ok: true, value, etag: response.headers.get('ETag') };
  } catch (error) {
    return { ok: false, problem: networkProblem(error) };
  }
}

export function listSales(token: string): Promise<AdminResult<{ sales: SaleResource[] }>> {
  return adminJson(token, '/sales');
}

/** A fresh Idempotency-Key: a retry of the same request (a lost answer) makes one sale. */
export function newIdempotencyKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** `ifMatch`: the current sale's ETag, to replace it; null: only if no sale is in progress. */
export function createSale(
  token: string,
  spec: SaleSpec,
  idempotencyKey: string,
  ifMatch: string | null = null,
): Promise<AdminResult<SaleResource>> {
  const headers: Record<string, string> = { 'Idempotency-Key': idempotencyKey };
  if (ifMatch) headers['If-Match'] = ifMatch;
  return adminJson(token, '/sales', { method: 'POST', body: spec, headers });
}

/** Done only while the sale is at `etag` (If-Match): otherwise 412, nothing changed. */
export function changeSale(
  token: string,
  saleId: number,
  change: SaleChange,
  etag: string,
): Promise<AdminResult<SaleResource>> {
  return adminJson(token, `/sales/${saleId}`, {
    method: 'PATCH',
    body: change,
    headers: { 'If-Match': etag },
  });
}

function pageQuery(limit: number, after: string | null): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (after) query.set('after', after);
  return query.toString();
}

export function fetchOrders(
  token: string,
  saleId: number,
  limit: number,
  after: string | null,
): Promise<AdminResult<OrdersPage>> {
  return adminJson(token, `/sales/${saleId}/orders?${pageQuery(limit, after)}`);
}

export function fetchAudit(
  token: string,
  limit: number,
  after: string | null,
): Promise<AdminResult<AuditPage>> {
  return adminJson(token, `/audit?${pageQuery(limit, after)}`);
}

export function ordersCsvPath(saleId: number): string {
  return `${ADMIN_BASE}/sales/${saleId}/orders.csv`;
}

/** The file name of Content-Disposition (`filename="..."`), else `fallback`. */
export function attachmentName(header: string | null, fallback: string): string {
  const match = header ? /filename="([^"]+)"/.exec(header) : null;
  return match?.[1] ?? fallback;
}

/**
 * The CSV of a sale's orders, as a Blob and its file name: a link cannot send the bearer
 * token, so the page fetches it and saves the Blob itself (see saveBlob).
 */
export async function fetchOrdersCsv(
  token: string,
  saleId: number,
): Promise<AdminResult<{ blob: Blob; filename: string }>> {
  let response: Response;
  try {
    response = await fetch(ordersCsvPath(saleId), {
      headers: { Accept: 'text/csv', Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
  } catch (error) {
    return { ok: false, problem: networkProblem(error) };
  }
  if (!response.ok) return { ok: false, problem: await problemOf(response) };
  const filename = attachmentName(
    response.headers.get('Content-Disposition'),
    `sale-${saleId}-orders.csv`,
  );
  return { ok: true, value: { blob: await response.blob(), filename }, etag: null };
}

/** Hand `blob` to the browser as a download named `filename`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // After the browser has taken the click: revoking at once may cancel the download.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
