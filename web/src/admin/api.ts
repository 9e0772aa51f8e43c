// The console's side of the GraphQL API: the access token lives in memory only (a
// reload trades the HttpOnly refresh cookie for a new one), every call carries it, and
// it is renewed a minute before it expires.

import { GraphQLError, Live } from "../api";
import {
  ConsoleEventsSubscriptionDocument,
  LogoutMutationDocument,
  ReauthenticateMutationDocument,
  RefreshMutationDocument,
  type ConsoleEventsSubscription,
  type Document,
  type LoginFieldsFragment,
} from "./graphql/generated";

export { GraphQLError };

interface ErrorShape {
  message: string;
  extensions?: { code?: string; field?: string };
}

export type LoginResult = LoginFieldsFragment;
export type User = LoginResult["user"];
export type SecondFactorChallenge = NonNullable<LoginResult["secondFactor"]>;

let accessToken: string | null = null;
let refreshTimer: number | undefined;
let onSessionLost: () => void = () => {};
let onStepUpNeeded: () => Promise<boolean> = async () => false;

export function token(): string | null {
  return accessToken;
}

/** Called when the session ended under us (expired, user deactivated): show the login. */
export function whenSessionLost(callback: () => void) {
  onSessionLost = callback;
}

/**
 * Called when a change needs the password given again (REAUTHENTICATION_REQUIRED):
 * ask for it, call `reauthenticate`, and resolve true to send the change once more.
 */
export function whenStepUpNeeded(ask: () => Promise<boolean>) {
  onStepUpNeeded = ask;
}

/** Gives the password (or an authenticator code) again; the new token allows step-up changes. */
export async function reauthenticate(password: string | null, code: string | null) {
  const data = await gql(ReauthenticateMutationDocument, { p: password, c: code });
  accessToken = data.reauthenticate.accessToken;
}

async function post<T>(body: BodyInit, headers: Record<string, string>, retried = false): Promise<T> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { ...headers, ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
    body,
    credentials: "same-origin",
  });
  let parsed: { data?: T; errors?: ErrorShape[] };
  try {
    parsed = await response.json();
  } catch {
    throw new GraphQLError(`The server answered ${response.status}.`);
  }
  if (parsed.errors?.length) {
    const first = parsed.errors[0];
    if (first.extensions?.code === "REAUTHENTICATION_REQUIRED" && !retried && (await onStepUpNeeded())) {
      return post<T>(body, headers, true);
    }
    if (first.extensions?.code === "UNAUTHENTICATED" && accessToken) {
      accessToken = null;
      live?.close();
      live = null;
      onSessionLost();
    }
    throw new GraphQLError(first.message, first.extensions?.code, first.extensions?.field);
  }
  if (!parsed.data) throw new GraphQLError(`The server answered ${response.status}.`);
  return parsed.data;
}

export function gql<T, V>(query: Document<T, V>, variables?: V): Promise<T> {
  return post<T>(JSON.stringify({ query, variables: variables ?? {} }), { "content-type": "application/json" });
}

/** A GraphQL multipart request (one file, in `variables.file`). */
export function gqlUpload<T, V extends { file: File }>(query: Document<T, V>, file: File): Promise<T> {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables: { file: null } }));
  form.append("map", JSON.stringify({ "0": ["variables.file"] }));
  form.append("0", file, file.name);
  return post<T>(form, {});
}

/** Takes a finished login (or refresh) into use and plans its renewal. */
export function startSession(result: LoginResult) {
  accessToken = result.accessToken;
  clearTimeout(refreshTimer);
  if (!result.accessExpiresAt) return;
  const renewIn = Math.max(5_000, new Date(result.accessExpiresAt).getTime() - Date.now() - 60_000);
  refreshTimer = setTimeout(async () => {
    const renewed = await refresh();
    if (renewed) startSession(renewed);
    else onSessionLost();
  }, renewIn) as unknown as number;
}

/** A new access token from the refresh cookie; null without a session. */
export async function refresh(): Promise<LoginResult | null> {
  try {
    const data = await gql(RefreshMutationDocument);
    return data.refresh.accessToken ? data.refresh : null;
  } catch {
    return null;
  }
}

export async function logout() {
  try {
    await gql(LogoutMutationDocument);
  } finally {
    accessToken = null;
    clearTimeout(refreshTimer);
    // The socket was authenticated with the old token; listeners stay for the next session.
    live?.close();
    live = null;
  }
}

export type ConsoleEvent = ConsoleEventsSubscription["events"];

let live: Live | null = null;
const listeners = new Set<(event: ConsoleEvent) => void>();

/** Calls `listener` for every console event until the returned function is called. */
export function onEvent(listener: (event: ConsoleEvent) => void): () => void {
  listeners.add(listener);
  ensureLive();
  return () => listeners.delete(listener);
}

function ensureLive() {
  if (!live) {
    live = new Live(
      () => {},
      () => ({ token: accessToken }),
    );
    live.subscribe(ConsoleEventsSubscriptionDocument, {}, (data) => {
      for (const l of listeners) l(data.events);
    });
  }
}

// --- WebAuthn: the server speaks JSON with base64url binary fields. ---

function fromBase64url(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return bytes.buffer;
}

function toBase64url(buffer: ArrayBuffer | null | undefined): string | undefined {
  if (!buffer) return undefined;
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function decodeCredentials(list: Json[] | undefined) {
  return list?.map((c) => ({ ...c, id: fromBase64url(c.id) }));
}

function credentialJson(credential: PublicKeyCredential): string {
  const response = credential.response as AuthenticatorAttestationResponse & AuthenticatorAssertionResponse;
  return JSON.stringify({
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults?.() ?? {},
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: toBase64url(response.userHandle),
      transports: response.getTransports?.(),
    },
  });
}

/** Asks the security key to sign the login challenge; the answer as the server wants it. */
export async function webauthnGet(optionsJson: string): Promise<string> {
  const { publicKey } = JSON.parse(optionsJson) as { publicKey: Json };
  const credential = (await navigator.credentials.get({
    publicKey: {
      ...publicKey,
      challenge: fromBase64url(publicKey.challenge),
      allowCredentials: decodeCredentials(publicKey.allowCredentials),
    } as PublicKeyCredentialRequestOptions,
  })) as PublicKeyCredential | null;
  if (!credential) throw new Error("The security key gave no answer.");
  return credentialJson(credential);
}

/** Registers a new security key with the server's creation options. */
export async function webauthnCreate(optionsJson: string): Promise<string> {
  const { publicKey } = JSON.parse(optionsJson) as { publicKey: Json };
  const credential = (await navigator.credentials.create({
    publicKey: {
      ...publicKey,
      challenge: fromBase64url(publicKey.challenge),
      user: { ...publicKey.user, id: fromBase64url(publicKey.user.id) },
      excludeCredentials: decodeCredentials(publicKey.excludeCredentials),
    } as PublicKeyCredentialCreationOptions,
  })) as PublicKeyCredential | null;
  if (!credential) throw new Error("The security key gave no answer.");
  return credentialJson(credential);
}
