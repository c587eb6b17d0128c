import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The API runs on gunicorn (see the repository README); `npm run dev` proxies to it.
const apiTarget = process.env.FLASHSALE_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Hashed names under /assets/ are what the Falcon side caches for a year.
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    rolldownOptions: {
      // Two pages: the shop and dashboard (index.html), and the API docs (docs.html, at
      // /docs), whose Swagger UI stays out of the shop's bundle.
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        docs: fileURLToPath(new URL('./docs.html', import.meta.url)),
      },
    },
    // The one lazy import is the shop's ALTCHA widget (a queue with proof of work only);
    // the browsers it supports preload modules without a polyfill.
    modulePreload: { polyfill: false },
    // Swagger UI is one ~1.6 MB chunk, loaded by /docs alone; the shop's stays far below.
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: {
      '/flash-sale': apiTarget,
      '/metrics': apiTarget,
      '/openapi.json': apiTarget,
    },
  },
  test: {
    environment: 'happy-dom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
