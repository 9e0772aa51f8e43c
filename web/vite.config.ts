import { defineConfig, type Plugin } from "vite";

// GraphiQL's stylesheet carries its fonts inline as `data:` URLs, which the pages' CSP
// (font-src falls back to default-src 'self') refuses. Rather than widen the policy,
// write each one out as a hashed file under assets/ and point the CSS at it.
function fontsOutOfCss(): Plugin {
  const DATA_FONT = /url\(\s*(["']?)data:font\/(woff2?|ttf|otf);base64,([A-Za-z0-9+/=]+)\1\s*\)/g;
  return {
    name: "monostat-fonts-out-of-css",
    apply: "build",
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== "asset" || !file.fileName.endsWith(".css")) continue;
        const css = typeof file.source === "string" ? file.source : new TextDecoder().decode(file.source);
        if (!css.includes("data:font/")) continue;
        file.source = css.replace(DATA_FONT, (_match, _quote, type: string, base64: string) => {
          const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
          // Named by content hash like every other asset, so it is cached for ever.
          const ref = this.emitFile({ type: "asset", name: `font.${type}`, source: bytes });
          return `url(/${this.getFileName(ref)})`;
        });
      }
    },
  };
}

// Two builds into one dist/. `vite build`: the public status page and the admin console
// (served under /admin/), sharing nothing but a few small modules. `vite build --mode
// graphiql`: GraphiQL (served at /graphql to browsers), the one page with React, built
// on its own so that not even a bundler helper chunk is shared with the other two: their
// output stays exactly what it is without GraphiQL.
export default defineConfig(({ mode }) => {
  const graphiql = mode === "graphiql";
  return {
    plugins: graphiql ? [fontsOutOfCss()] : [],
    build: {
      target: "es2020",
      outDir: "dist",
      // The second build adds to the first one's output.
      emptyOutDir: !graphiql,
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
      // GraphiQL is large (its budget is in scripts/budget.mjs); no warning for that.
      chunkSizeWarningLimit: graphiql ? 2048 : 500,
      rollupOptions: {
        input: (graphiql
          ? { graphiql: "graphiql/index.html" }
          : { main: "index.html", admin: "admin/index.html" }) as Record<string, string>,
        // GraphiQL's React libraries mark modules "use client" for server components;
        // meaningless in a static bundle, and one warning per file.
        onwarn(warning, warn) {
          if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
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
  };
});
