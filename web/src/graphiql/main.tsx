/** @jsxImportSource react */
// GraphiQL for /graphql, bundled from the lockfile's versions and served from our own
// origin under the console's CSP. It is the one page that uses React (GraphiQL needs
// it); the public page and the console never import this entry.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createClient } from "graphql-ws";
import { createRoot } from "react-dom/client";
import "graphiql/style.css";
import "./graphiql.css";

const http = new URL("/graphql", location.href);
const socket = new URL(http);
socket.protocol = location.protocol === "https:" ? "wss:" : "ws:";

// Subscriptions go over one graphql-transport-ws socket on the same path. Made lazily
// (graphql-ws's default): the server closes a socket that says nothing for 10 s, so
// none is opened until a subscription runs, and it says connection_init at once.
const wsClient = createClient({ url: socket.href, lazy: true });

const fetcher = createGraphiQLFetcher({
  url: http.href,
  subscriptionUrl: socket.href,
  wsClient,
  // The server sends no incremental (multipart) responses; plain JSON POSTs only.
  enableIncrementalDelivery: false,
});

const DEFAULT_QUERY = `# The monostat GraphQL API. Public queries need no token; console operations
# need "Authorization": "Bearer <accessToken>" from login, set in Headers below.

{
  status {
    headline
    generatedAt
  }
}
`;

createRoot(document.getElementById("graphiql")!).render(
  // Headers (the console token) stay in memory: never persisted to localStorage.
  <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} shouldPersistHeaders={false} />,
);
