import { type MouseEvent, useEffect, useRef } from 'react';
import { Admin } from './admin/Admin';
import { Dashboard } from './dashboard/Dashboard';
import { useRoute } from './lib/useRoute';
import { Shop } from './shop/Shop';

const VIEWS = [
  { path: '/', label: 'Shop', title: 'Flash sale' },
  { path: '/dashboard', label: 'Dashboard', title: 'Flash sale · Dashboard' },
  { path: '/admin', label: 'Admin', title: 'Flash sale · Admin' },
] as const;

/** The API's docs: a page of its own (docs.html), so a link the browser follows, not a view. */
const DOCS_PATH = '/docs';

function normalize(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

export function App() {
  const [rawPath, navigate] = useRoute();
  const path = normalize(rawPath);
  const view = VIEWS.find((candidate) => candidate.path === path) ?? null;
  const mainRef = useRef<HTMLElement>(null);

  useEffect(() => {
    document.title = view ? view.title : 'Flash sale · Not found';
  }, [view]);

  const follow = (event: MouseEvent<HTMLAnchorElement>, to: string) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || event.button !== 0) {
      return;
    }
    event.preventDefault();
    navigate(to);
    mainRef.current?.focus();
  };

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="/" onClick={(event) => follow(event, '/')}>
          <span className="brand__mark" aria-hidden="true">
            ⚡
          </span>
          Flash sale
        </a>
        <nav aria-label="Views">
          <ul className="nav">
            {VIEWS.map((candidate) => (
              <li key={candidate.path}>
                <a
                  href={candidate.path}
                  className="nav__link"
                  aria-current={view?.path === candidate.path ? 'page' : undefined}
                  onClick={(event) => follow(event, candidate.path)}
                >
                  {candidate.label}
                </a>
              </li>
            ))}
            <li>
              <a href={DOCS_PATH} className="nav__link">
                API
              </a>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="main">
        {view?.path === '/' ? <Shop /> : null}
        {view?.path === '/dashboard' ? <Dashboard /> : null}
        {view?.path === '/admin' ? <Admin /> : null}
        {view === null ? (
          <section className="card">
            <h1>Page not found</h1>
            <p>
              There is nothing at <code>{rawPath}</code>.{' '}
              <a href="/" onClick={(event) => follow(event, '/')}>
                Go to the shop
              </a>
              .
            </p>
          </section>
        ) : null}
      </main>
    </>
  );
}
