import { defineConfig } from "vite";

// One multi-page build: the public status page and the admin console (served under
// /admin/), sharing nothing but the build and a few small modules.
export default defineConfig({
  build: {
    target: "es2020",
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        main: "index.html",
        admin: "admin/index.html",
      },
    },
  },
  server: {
    // `npm run dev` next to a running `monostat serve`: the API comes from there.
    proxy: {
      "/graphql": { target: "http://127.0.0.1:8080", ws: true },
      "/feed": "http://127.0.0.1:8080",
      "/logo": "http://127.0.0.1:8080",
      "^/subscribe/.+": "http://127.0.0.1:8080",
      "/unsubscribe": "http://127.0.0.1:8080",
    },
  },
});
