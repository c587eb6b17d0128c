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
  },
  server: {
    proxy: {
      '/flash-sale': apiTarget,
      '/metrics': apiTarget,
    },
  },
  test: {
    environment: 'happy-dom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
