import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { captureTokenFromAddress } from './lib/shopperToken';
import './styles.css';

// Before anything renders: the shop's sign-in link must not stay in the address bar.
captureTokenFromAddress();

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
