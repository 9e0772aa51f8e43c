// Small building blocks shared by the console pages: links that navigate in place,
// labelled fields that show their own error, loading data, and status messages.

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useId, useState } from "preact/hooks";
import { GraphQLError } from "./api";

export function navigate(path: string) {
  if (path !== location.pathname + location.search) history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-current={props.current ? "page" : undefined}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

/** The message of any thrown thing, in words for a person. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Server errors that name a field go next to it; the rest above the form. */
export function fieldOf(error: unknown): string | undefined {
  return error instanceof GraphQLError ? error.field : undefined;
}

type Validator = (value: string) => string | null;

export const required =
  (what: string): Validator =>
  (value) =>
    value.trim() ? null : `${what} is required.`;
export const email: Validator = (value) =>
  !value || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) ? null : "Enter an e-mail address like name@example.com.";
export const url: Validator = (value) =>
  !value || /^https?:\/\/\S+$/.test(value) ? null : "Enter a full URL starting with https://.";
export const color: Validator = (value) =>
  /^#[0-9a-fA-F]{6}$/.test(value) ? null : "Enter a colour as #rrggbb.";

/**
 * Form state: values, validation as you type (once a field was touched), and the
 * server's error for a field (cleared when the field changes). Values survive a
 * failed save because nothing resets them.
 */
export function useForm<T extends Record<string, string | boolean>>(initial: T, validators: Partial<Record<keyof T, Validator>> = {}) {
  const [values, setValues] = useState<T>(initial);
  const [touched, setTouched] = useState<Partial<Record<keyof T, boolean>>>({});
  const [serverErrors, setServerErrors] = useState<Partial<Record<string, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const errorOf = (name: keyof T): string | undefined => {
    const server = serverErrors[name as string];
    if (server) return server;
    const validate = validators[name];
    const value = values[name];
    return touched[name] && validate && typeof value === "string" ? (validate(value) ?? undefined) : undefined;
  };

  const set = (name: keyof T, value: string | boolean) => {
    setValues((old) => ({ ...old, [name]: value }));
    setTouched((old) => ({ ...old, [name]: true }));
    setServerErrors((old) => ({ ...old, [name as string]: undefined }));
  };

  /** Validates everything, then runs `action`; a server error lands by its field. */
  const submit = async (action: (values: T) => Promise<void>, fieldMap: Record<string, string> = {}) => {
    // Whoever submitted (button or Enter in a field) has the focus inside the form.
    const form = (document.activeElement as HTMLElement | null)?.closest("form");
    const focusFirstError = () =>
      setTimeout(() => form?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus(), 0);
    const all = Object.fromEntries(Object.keys(values).map((k) => [k, true])) as Partial<Record<keyof T, boolean>>;
    setTouched(all);
    const invalid = (Object.keys(validators) as (keyof T)[]).some((name) => {
      const value = values[name];
      return typeof value === "string" && validators[name]?.(value);
    });
    if (invalid) {
      setFormError("Please correct the marked fields.");
      focusFirstError();
      return false;
    }
    setBusy(true);
    setFormError(null);
    try {
      await action(values);
      return true;
    } catch (error) {
      const field = fieldOf(error);
      const name = field && (fieldMap[field] ?? (field in values ? field : undefined));
      if (name) {
        setServerErrors((old) => ({ ...old, [name]: messageOf(error) }));
        setFormError("Not saved: please correct the marked fields.");
        focusFirstError();
      } else setFormError(`Not saved: ${messageOf(error)}`);
      return false;
    } finally {
      setBusy(false);
    }
  };

  return { values, setValues, set, errorOf, submit, busy, formError, setFormError };
}

type FieldProps = {
  label: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  hint?: string;
  type?: string;
  name?: string;
  multiline?: boolean;
  readOnly?: boolean;
  autoComplete?: string;
  required?: boolean;
  inputMode?: "numeric" | "text" | "email";
};

export function Field(props: FieldProps) {
  const id = useId();
  const describedBy = [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""].filter(Boolean).join(" ");
  const common = {
    id,
    name: props.name,
    value: props.value,
    readOnly: props.readOnly,
    required: props.required,
    "aria-invalid": props.error ? ("true" as const) : undefined,
    "aria-describedby": describedBy || undefined,
    onInput: (event: Event) => props.onInput((event.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class={`field${props.error ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.multiline ? (
        <textarea rows={4} {...common} />
      ) : (
        <input type={(props.type ?? "text") as "text"} autoComplete={props.autoComplete} inputMode={props.inputMode} {...common} />
      )}
      {props.error && (
        <p class="error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

export function Checkbox(props: { label: string; checked: boolean; onChange: (checked: boolean) => void; hint?: string; disabled?: boolean }) {
  const id = useId();
  return (
    <div class="check">
      <input
        type="checkbox"
        id={id}
        checked={props.checked}
        disabled={props.disabled}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onChange={(event) => props.onChange((event.currentTarget as HTMLInputElement).checked)}
      />
      <label for={id}>{props.label}</label>
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

export function Select<V extends string>(props: {
  label: string;
  value: V;
  options: [V, string][];
  onChange: (value: V) => void;
  error?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(event) => props.onChange((event.currentTarget as HTMLSelectElement).value as V)}>
        {props.options.map(([value, label]) => (
          <option value={value}>{label}</option>
        ))}
      </select>
      {props.error && <p class="error">{props.error}</p>}
    </div>
  );
}

/** Loads data, reloads on demand; errors become a message. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(async () => {
    try {
      setData(await load());
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    }
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    reload();
  }, [reload]);
  return { data, error, reload, setData };
}

export function Status(props: { message: string | null; kind?: "error" | "ok" }) {
  // Always rendered so screen readers hear the change.
  return (
    <p class={`status ${props.kind ?? "ok"}`} role={props.kind === "error" ? "alert" : "status"}>
      {props.message ?? ""}
    </p>
  );
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** `datetime-local` value of an ISO time, in the browser's zone. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export const STATUS_LABEL: Record<string, string> = {
  PLANNED: "Planned",
  SUSPECTED: "Suspected",
  DISMISSED: "Dismissed",
  CONFIRMED: "Confirmed",
  WATCHING: "Watching",
  RESOLVED: "Resolved",
};

export const SEVERITY_LABEL: Record<string, string> = {
  MAINTENANCE: "Maintenance",
  NOTICE: "Notice",
  BUG: "Known bug",
  PARTIAL: "Partial outage",
  OUTAGE: "Outage",
};

export const SEVERITIES = Object.entries(SEVERITY_LABEL) as [string, string][];
