import { vi } from 'vitest';

type Listener = (event: Event) => void;

/** Enough of the browser's EventSource for the pages, driven by the test. */
export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;

  readonly url: string;
  readyState = FakeEventSource.CONNECTING;
  /** Set by close(): after it a real EventSource fires nothing more. */
  closedByPage = false;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(url: string | URL, created: FakeEventSource[]) {
    this.url = String(url);
    created.push(this);
  }

  addEventListener(type: string, listener: Listener): void {
    const listeners = this.listeners.get(type) ?? new Set();
    listeners.add(listener);
    this.listeners.set(type, listeners);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    this.readyState = FakeEventSource.CLOSED;
    this.closedByPage = true;
  }

  /** The server sends `event: status` with this JSON (opening the stream first). */
  pushStatus(status: unknown): void {
    if (this.readyState === FakeEventSource.CONNECTING) {
      this.readyState = FakeEventSource.OPEN;
      this.dispatch(new Event('open'));
    }
    this.dispatch(new MessageEvent('status', { data: JSON.stringify(status) }));
  }

  /** A non-200 answer (a 503): EventSource gives up. */
  refuse(): void {
    this.readyState = FakeEventSource.CLOSED;
    this.dispatch(new Event('error'));
  }

  /** The connection is lost: EventSource reconnects by itself. */
  drop(): void {
    this.readyState = FakeEventSource.CONNECTING;
    this.dispatch(new Event('error'));
  }

  private dispatch(event: Event): void {
    if (this.closedByPage) return;
    for (const listener of this.listeners.get(event.type) ?? []) listener(event);
  }
}

/** Install FakeEventSource as the global EventSource; returns the sources made, oldest first. */
export function installFakeEventSource(): FakeEventSource[] {
  const created: FakeEventSource[] = [];
  vi.stubGlobal(
    'EventSource',
    class extends FakeEventSource {
      constructor(url: string | URL) {
        super(url, created);
      }
    },
  );
  return created;
}

export function latest(created: FakeEventSource[]): FakeEventSource {
  const source = created.at(-1);
  if (!source) throw new Error('no EventSource was opened');
  return source;
}
