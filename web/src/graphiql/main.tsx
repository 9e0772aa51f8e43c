/** @jsxImportSource react */
// GraphiQL for /graphql, bundled from the lockfile's versions and served from our own
// origin under the console's CSP. It is the one page that uses React (GraphiQL needs
// it); the public page and the console never import this entry.
import { createGraphiQLFetcher, type Fetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { parse } from "graphql";
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

const toServer = createGraphiQLFetcher({
  url: http.href,
  subscriptionUrl: socket.href,
  wsClient,
  // The server sends no incremental (multipart) responses; plain JSON POSTs only.
  enableIncrementalDelivery: false,
});

// The server refuses queries nested deeper than 12 levels, and graphql-js's standard
// introspection query is 13 deep: its TypeRef fragment unwraps seven `ofType`s, for
// types like [[[X!]!]!]!. Six still fit under the limit, and the schema wraps a type
// three times at most ([X!]!), so GraphiQL's introspection is sent with that fragment.
const typeRef = (depth: number): string => (depth === 0 ? "kind name" : `kind name ofType { ${typeRef(depth - 1)} }`);
const TYPE_REF = "fragment TypeRef on __Type";
const fetcher: Fetcher = (params, options) => {
  const at = params.query.indexOf(TYPE_REF);
  if (params.operationName === "IntrospectionQuery" && at >= 0) {
    // TypeRef is the last fragment of the query graphql-js makes.
    return toServer({ ...params, query: `${params.query.slice(0, at)}${TYPE_REF} { ${typeRef(6)} }` }, options);
  }
  // The toolkit picks the socket when the document GraphiQL hands over is a
  // subscription; GraphiQL re-parses the editor 100 ms after a keystroke, so a run
  // right after typing would send the previous document's kind. Parse what is sent.
  let documentAST = options?.documentAST;
  try {
    documentAST = parse(params.query);
  } catch {
    // Not valid GraphQL: the server says what is wrong with it.
  }
  return toServer(params, { ...options, documentAST });
};

const DEFAULT_QUERY = `# Public queries need no token. For console
# operations, log in (mutation login) and add
# under Headers: {"Authorization": "Bearer …"}

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
