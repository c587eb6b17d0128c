import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { json, mockFetch, OPEN_STATUS } from './test/fetchMock';

afterEach(() => {
  vi.unstubAllGlobals();
  window.history.replaceState(null, '', '/');
});

describe('App', () => {
  it('switches between the shop and the dashboard without a reload', async () => {
    mockFetch((url) => (url.endsWith('/status') ? json(OPEN_STATUS) : json({}, 500)));
    render(<App />);
    expect(await screen.findByRole('heading', { level: 1, name: /Aurora/ })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Shop' })).toHaveAttribute('aria-current', 'page');

    await userEvent.setup().click(screen.getByRole('link', { name: 'Dashboard' }));
    expect(window.location.pathname).toBe('/dashboard');
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Operator dashboard');
    expect(screen.getByRole('link', { name: 'Dashboard' })).toHaveAttribute('aria-current', 'page');
  });

  it('links to the API docs, a page of its own that the browser loads', () => {
    mockFetch((url) => (url.endsWith('/status') ? json(OPEN_STATUS) : json({}, 500)));
    render(<App />);
    const docs = screen.getByRole('link', { name: 'API' });
    expect(docs).toHaveAttribute('href', '/docs');
    // Not taken over by the views' pushState navigation: the browser follows the link.
    const click = new MouseEvent('click', { bubbles: true, cancelable: true, button: 0 });
    docs.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(false);
  });

  it('says so for an unknown path', () => {
    window.history.replaceState(null, '', '/nowhere');
    mockFetch(() => json({}, 500));
    render(<App />);
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Page not found');
  });
});
