import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Cross-origin isolation lets tfjs-wasm use threads (SharedArrayBuffer); the CSP keeps every
// connection on the app's own origin, so nothing a user loads can leave the browser.
const securityHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' blob: 'wasm-unsafe-eval' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self' data: blob: ws://localhost:*",
};

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  server: { headers: securityHeaders },
  preview: { headers: securityHeaders },
  optimizeDeps: {
    include: ['lodash.get', 'fast-deep-equal', 'seedrandom', '@tensorflow/tfjs-core', 'dicom-parser'],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 8000 },
});
