// GraphQL over HTTP for one-off reads and writes, and a minimal graphql-transport-ws
// client for the live subscriptions (a library would cost more bytes than the page).

import type { Document } from "./graphql/generated";

// The page's operations are in src/graphql/*.graphql; `npm run codegen` makes them
// typed documents in src/graphql/generated.ts.
export {
  DayQueryDocument as DAY_QUERY,
  HistoryQueryDocument as HISTORY_QUERY,
  IncidentChangedSubscriptionDocument as INCIDENT_SUBSCRIPTION,
  IncidentQueryDocument as INCIDENT_QUERY,
  StatusChangedSubscriptionDocument as STATUS_SUBSCRIPTION,
  StatusQueryDocument as STATUS_QUERY,
  SubscribeMutationDocument as SUBSCRIBE_MUTATION,
} from "./graphql/generated";

export class GraphQLError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

interface ErrorShape {
  message: string;
  extensions?: { code?: string; field?: string };
}

export async function graphql<T, V>(query: Document<T, V>, variables?: V): Promise<T> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables: variables ?? {} }),
  });
  return read(response);
}

/**
 * A query without variables over GET: the server answers the page's status query from
 * its snapshot, ETagged, and a CDN in front may answer it for everyone for a few
 * seconds. `no-cache` because the answer allows stale-while-revalidate for 30 s: the
 * browser would otherwise show each poll the answer of the one before.
 */
export async function graphqlGet<T>(query: Document<T, Record<string, never>>): Promise<T> {
  return read(await fetch(`/graphql?query=${encodeURIComponent(query)}`, { cache: "no-cache" }));
}

async function read<T>(response: Response): Promise<T> {
  let body: { data?: T; errors?: ErrorShape[] };
  try {
    body = await response.json();
  } catch {
    throw new GraphQLError(`HTTP ${response.status}`);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new GraphQLError(first.message, first.extensions?.code, first.extensions?.field);
  }
  if (!body.data) throw new GraphQLError(`HTTP ${response.status}`);
  return body.data;
}

export type LiveState = "connecting" | "live" | "offline";

interface Subscription {
  query: string;
  variables: Record<string, unknown>;
  onData: (data: unknown) => void;
}

/**
 * One WebSocket for all live views of the page. Reconnects with back-off after any loss
 * and re-subscribes; the server answers each subscription with the current value first,
 * so nothing missed while offline stays missed.
 */
export class Live {
  private socket: WebSocket | null = null;
  private subscriptions = new Map<string, Subscription>();
  private nextId = 1;
  private attempt = 0;
  private retryTimer: number | undefined;
  private state: LiveState = "connecting";

  constructor(
    private readonly onState: (state: LiveState) => void,
    // The console authenticates its socket here (`{"token": …}`); the public page sends none.
    private readonly initPayload: () => Record<string, unknown> = () => ({}),
  ) {
    addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.state === "offline") this.reconnectNow();
    });
  }

  subscribe<T, V>(document: Document<T, V>, variables: V, onData: (data: T) => void): () => void;
  subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void): () => void;
  subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void): () => void {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { query, variables, onData: onData as (data: unknown) => void });
    if (this.state === "live") this.send({ id, type: "subscribe", payload: { query, variables } });
    else if (!this.socket) this.connect();
    return () => {
      this.subscriptions.delete(id);
      if (this.state === "live") this.send({ id, type: "complete" });
    };
  }

  /** Ends the socket for good (the console's logout: it was opened with the token). */
  close() {
    this.subscriptions.clear();
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  private connect() {
    clearTimeout(this.retryTimer);
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, "graphql-transport-ws");
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.send({ type: "connection_init", payload: this.initPayload() });
    socket.onmessage = (event) => {
      let message: { id?: string; type: string; payload?: { data?: unknown } };
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      switch (message.type) {
        case "connection_ack":
          this.attempt = 0;
          this.setState("live");
          for (const [id, sub] of this.subscriptions) {
            this.send({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } });
          }
          break;
        case "ping":
          this.send({ type: "pong" });
          break;
        case "next":
          if (message.id && message.payload?.data) this.subscriptions.get(message.id)?.onData(message.payload.data);
          break;
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setState("offline");
      this.scheduleRetry();
    };
  }

  private scheduleRetry() {
    // 1 s, 2 s, 4 s … at most 30 s, with jitter so a herd of pages does not reconnect in step.
    const delay = Math.min(30_000, 1000 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt = Math.min(this.attempt + 1, 5);
    this.retryTimer = setTimeout(() => this.connect(), delay) as unknown as number;
  }

  private reconnectNow() {
    if (this.socket) return;
    this.attempt = 0;
    this.connect();
  }

  private send(message: object) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private setState(state: LiveState) {
    this.state = state;
    this.onState(state);
  }
}
