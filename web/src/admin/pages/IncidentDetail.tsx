import { useEffect, useState } from "preact/hooks";
import { gql, onEvent } from "../api";
import {
  ConfirmIncidentMutationDocument,
  DeleteIncidentMutationDocument,
  DeleteIncidentUpdateMutationDocument,
  DismissIncidentMutationDocument,
  EditIncidentMutationDocument,
  EditIncidentUpdateMutationDocument,
  IncidentDetailQueryDocument,
  NotificationProgressQueryDocument,
  ReopenIncidentMutationDocument,
  ResolveIncidentMutationDocument,
  StartMaintenanceMutationDocument,
  UpdateIncidentMutationDocument,
  type IncidentDetailQuery,
  type IncidentStatus,
  type Severity,
  type NotificationProgressQuery,
} from "../graphql/generated";
import {
  Checkbox,
  Field,
  formatTime,
  fromLocalInput,
  Link,
  messageOf,
  navigate,
  required,
  Select,
  SEVERITIES,
  SEVERITY_LABEL,
  STATUS_LABEL,
  Status,
  toLocalInput,
  useForm,
} from "../ui";

type Detail = NonNullable<IncidentDetailQuery["consoleIncident"]>;
type AuditEntry = IncidentDetailQuery["auditLog"][number];
type Progress = NotificationProgressQuery["notificationProgress"];

export function IncidentDetail(props: { id: number }) {
  const { id } = props;
  const [incident, setIncident] = useState<Detail | null | undefined>(undefined);
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [deleted, setDeleted] = useState(false);

  const load = async () => {
    try {
      const data = await gql(IncidentDetailQueryDocument, { id });
      setIncident(data.consoleIncident);
      setAudit(data.auditLog);
      const notified = data.consoleIncident?.lastNotifiedStatus;
      if (notified) {
        const p = await gql(NotificationProgressQueryDocument, { id, s: notified });
        setProgress(p.notificationProgress);
      } else setProgress(null);
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  useEffect(() => {
    load();
    return onEvent((event) => {
      if (event.kind === "resync" || event.incidentId === id) {
        if (event.kind === "incident_deleted") setDeleted(true);
        else load();
      }
    });
  }, [id]);

  // A fan-out sends no events of its own: while mails wait, look again now and then.
  useEffect(() => {
    if (!progress || progress.pending === 0) return;
    const timer = setTimeout(load, 2000);
    return () => clearTimeout(timer);
  }, [progress]);

  if (deleted)
    return (
      <>
        <h1 tabIndex={-1}>Incident {id} was deleted</h1>
        <p>
          <Link href="/admin/">Back to the incidents</Link>
        </p>
      </>
    );
  if (incident === undefined)
    return (
      <>
        <h1 tabIndex={-1}>Incident {id}</h1>
        <Status message={error ?? "Loading…"} kind={error ? "error" : "ok"} />
      </>
    );
  if (incident === null)
    return (
      <>
        <h1 tabIndex={-1}>No incident {id}</h1>
        <p>
          <Link href="/admin/">Back to the incidents</Link>
        </p>
      </>
    );

  return (
    <>
      <p class="crumbs">
        <Link href="/admin/">Incidents</Link> › #{incident.id}
      </p>
      <h1 tabIndex={-1}>{incident.title}</h1>
      <p class="meta">
        <span class={`pill s-${incident.status.toLowerCase()}`} data-status={incident.status}>
          {STATUS_LABEL[incident.status]}
        </span>{" "}
        {SEVERITY_LABEL[incident.severity]} · started {formatTime(incident.start)}
        {incident.end && <> · ended {formatTime(incident.end)}</>}
        {incident.origin !== "MANUAL" && <> · opened by {incident.origin.toLowerCase()}</>}
        {incident.silent && <> · subscribers are never notified</>}
      </p>
      <p class="links">
        {incident.path && <a href={incident.path}>Public page</a>}
        {incident.slackUrl && (
          <a href={incident.slackUrl} target="_blank" rel="noopener noreferrer">
            Slack thread
          </a>
        )}
      </p>
      <Status message={error} kind="error" />
      <Actions incident={incident} onChanged={load} />
      {progress && progress.total > 0 && (
        <section aria-labelledby="progress-h">
          <h2 id="progress-h">Notification of “{STATUS_LABEL[incident.lastNotifiedStatus ?? ""]}”</h2>
          <p class="progress-line">
            <progress max={progress.total} value={progress.sent + progress.failed} aria-label="Mails handled" /> {progress.sent} of {progress.total} sent
            {progress.failed > 0 && `, ${progress.failed} failed`}
            {progress.pending > 0 && `, ${progress.pending} waiting`}
          </p>
        </section>
      )}
      <Timeline incident={incident} onChanged={load} />
      <EditFields incident={incident} onChanged={load} />
      {incident.alerts.length > 0 && (
        <section aria-labelledby="alerts-h">
          <h2 id="alerts-h">Alerts</h2>
          <div class="table-wrap">
            <table class="list">
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">Message</th>
                  <th scope="col">Opened</th>
                  <th scope="col">Closed</th>
                </tr>
              </thead>
              <tbody>
                {incident.alerts.map((alert) => (
                  <tr>
                    <td>
                      {alert.source?.toLowerCase() ?? "—"} <span class="muted">{alert.externalId}</span>
                    </td>
                    <td>{alert.message}</td>
                    <td>{formatTime(alert.created)}</td>
                    <td>{alert.resolved ? formatTime(alert.resolved) : "open"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <section aria-labelledby="audit-h">
        <h2 id="audit-h">Audit log</h2>
        <AuditList entries={audit} />
      </section>
      <section aria-labelledby="danger-h">
        <h2 id="danger-h">Delete</h2>
        <p>Deleting removes the incident, its timeline and alerts for good; the audit log keeps a line.</p>
        <button
          type="button"
          class="danger"
          onClick={async () => {
            if (!confirm(`Delete incident ${incident.id} “${incident.title}” for good?`)) return;
            try {
              await gql(DeleteIncidentMutationDocument, { id: incident.id });
              navigate("/admin/");
            } catch (e) {
              setError(messageOf(e));
            }
          }}
        >
          Delete incident
        </button>
      </section>
    </>
  );
}

export function AuditList(props: { entries: AuditEntry[] }) {
  if (!props.entries.length) return <p>Nothing recorded yet.</p>;
  return (
    <ul class="audit">
      {props.entries.map((entry) => (
        <li>
          <time dateTime={entry.at}>{formatTime(entry.at)}</time> <strong>{entry.actorName}</strong>{" "}
          <span class="muted">({entry.actorKind.replace("_", " ")})</span>: {entry.message}
        </li>
      ))}
    </ul>
  );
}

/** The lifecycle actions that fit the state, and a new timeline entry. */
function Actions(props: { incident: Detail; onChanged: () => void }) {
  const { incident } = props;
  const [doNotNotify, setDoNotNotify] = useState(false);
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  // "" keeps the severity: the incident may change under the open page (Slack, another
  // operator), and an untouched select must not put an old value back.
  const form = useForm({ text: "", newStatus: "", severity: "" });

  const run = async (label: string, change: (variables: { id: number; dnn: boolean }) => Promise<unknown>) => {
    setMessage(null);
    try {
      await change({ id: incident.id, dnn: doNotNotify });
      setMessage({ text: `${label}: done.`, kind: "ok" });
      props.onChanged();
    } catch (e) {
      setMessage({ text: `${label} failed: ${messageOf(e)}`, kind: "error" });
    }
  };

  const s = incident.status;
  const canUpdate = s !== "DISMISSED";
  return (
    <section aria-labelledby="actions-h" class="panel">
      <h2 id="actions-h">Actions</h2>
      {!incident.silent && (
        <Checkbox
          label="Do not notify subscribers about this change"
          checked={doNotNotify}
          onChange={setDoNotNotify}
        />
      )}
      <div class="buttons">
        {s === "SUSPECTED" && (
          <>
            <button type="button" class="primary" onClick={() => run("Confirm", (v) => gql(ConfirmIncidentMutationDocument, v))}>
              Confirm
            </button>
            <button type="button" onClick={() => run("Dismiss", ({ id }) => gql(DismissIncidentMutationDocument, { id }))}>
              Dismiss as false alarm
            </button>
          </>
        )}
        {s === "PLANNED" && (
          <button type="button" class="primary" onClick={() => run("Start maintenance", (v) => gql(StartMaintenanceMutationDocument, v))}>
            Start maintenance now
          </button>
        )}
        {(s === "CONFIRMED" || s === "WATCHING" || s === "SUSPECTED") && (
          <button type="button" onClick={() => run("Resolve", (v) => gql(ResolveIncidentMutationDocument, v))}>
            Resolve
          </button>
        )}
        {(s === "RESOLVED" || s === "DISMISSED") && (
          <button type="button" onClick={() => run("Reopen", (v) => gql(ReopenIncidentMutationDocument, v))}>
            Reopen
          </button>
        )}
      </div>
      <Status message={message?.text ?? null} kind={message?.kind} />
      {canUpdate && (
        <form
          class="update-form"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            form.submit(async (v) => {
              if (!v.text.trim() && !v.newStatus && !v.severity) throw new Error("Write an update or change the status or severity.");
              await gql(UpdateIncidentMutationDocument, {
                id: incident.id,
                input: {
                  text: v.text.trim() || null,
                  newStatus: (v.newStatus || null) as IncidentStatus | null,
                  severity: (v.severity || null) as Severity | null,
                  doNotNotify,
                },
              });
              form.setValues({ text: "", newStatus: "", severity: "" });
              setMessage({ text: "Update posted.", kind: "ok" });
              props.onChanged();
            }, { text: "text", newStatus: "newStatus", severity: "severity" });
          }}
        >
          <h3>Post an update</h3>
          <Field label="Update (Markdown)" name="text" multiline value={form.values.text} onInput={(v) => form.set("text", v)} error={form.errorOf("text")} />
          <div class="row">
            <Select
              label="New status"
              value={form.values.newStatus}
              options={[
                ["", "Keep the status"],
                ["CONFIRMED", "Confirmed"],
                ["WATCHING", "Watching"],
                ["RESOLVED", "Resolved"],
              ]}
              onChange={(v) => form.set("newStatus", v)}
              error={form.errorOf("newStatus")}
            />
            <Select
              label="Severity"
              value={form.values.severity}
              options={[["", `Keep the severity (${SEVERITY_LABEL[incident.severity]})`], ...SEVERITIES]}
              onChange={(v) => form.set("severity", v)}
              error={form.errorOf("severity")}
            />
          </div>
          <Status message={form.formError} kind="error" />
          <button type="submit" class="primary" disabled={form.busy}>
            Post update
          </button>
        </form>
      )}
    </section>
  );
}

function Timeline(props: { incident: Detail; onChanged: () => void }) {
  const [editing, setEditing] = useState<number | null>(null);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <Status message={error} kind="error" />
      <ol class="timeline">
        {props.incident.updates.map((entry) => (
          <li data-update={entry.id}>
            <p class="meta">
              <time dateTime={entry.created}>{formatTime(entry.created)}</time> · {entry.author}
              {entry.newStatus && <> · now {STATUS_LABEL[entry.newStatus]}</>}
            </p>
            {editing === entry.id ? (
              <form
                onSubmit={async (event) => {
                  event.preventDefault();
                  try {
                    await gql(EditIncidentUpdateMutationDocument, { id: entry.id, m: text });
                    setEditing(null);
                    setError(null);
                    props.onChanged();
                  } catch (e) {
                    setError(`Not saved: ${messageOf(e)}`);
                  }
                }}
              >
                <Field label="Entry text (Markdown)" multiline value={text} onInput={setText} error={text.trim() ? undefined : "The entry needs some text."} />
                <div class="buttons">
                  <button type="submit" class="primary" disabled={!text.trim()}>
                    Save entry
                  </button>
                  <button type="button" onClick={() => setEditing(null)}>
                    Cancel
                  </button>
                </div>
              </form>
            ) : (
              <>
                <p class="entry-text">{entry.message}</p>
                <div class="buttons small">
                  <button
                    type="button"
                    aria-label={`Edit entry of ${formatTime(entry.created)}`}
                    onClick={() => {
                      setEditing(entry.id);
                      setText(entry.message);
                    }}
                  >
                    Edit
                  </button>
                  {props.incident.updates.length > 1 && (
                    <button
                      type="button"
                      aria-label={`Delete entry of ${formatTime(entry.created)}`}
                      onClick={async () => {
                        if (!confirm("Delete this timeline entry?")) return;
                        try {
                          await gql(DeleteIncidentUpdateMutationDocument, { id: entry.id });
                          props.onChanged();
                        } catch (e) {
                          setError(messageOf(e));
                        }
                      }}
                    >
                      Delete
                    </button>
                  )}
                </div>
              </>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** Corrections: no notification, no Slack message. */
function EditFields(props: { incident: Detail; onChanged: () => void }) {
  const { incident } = props;
  const initial = () => ({
    title: incident.title,
    severity: incident.severity,
    summary: incident.summary ?? "",
    start: toLocalInput(incident.start),
    end: toLocalInput(incident.end),
    silent: incident.silent,
    autoStart: incident.autoStart,
  });
  // What the form started from: only fields changed since are sent, so a change made
  // meanwhile elsewhere (Slack, another operator) is not overwritten with old values.
  const [base, setBase] = useState(initial);
  const form = useForm(base, { title: required("The title"), start: required("The start") });
  const [saved, setSaved] = useState<string | null>(null);
  const ended = incident.status === "RESOLVED" || incident.status === "DISMISSED";
  return (
    <section aria-labelledby="edit-h" class="panel">
      <h2 id="edit-h">Correct the details</h2>
      <p class="hint">Corrections do not notify subscribers or post to Slack.</p>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setSaved(null);
          form.submit(async (v) => {
            const changed = (name: keyof typeof base) => v[name] !== base[name];
            await gql(EditIncidentMutationDocument, {
              id: incident.id,
              input: {
                title: changed("title") ? v.title : null,
                severity: changed("severity") ? v.severity : null,
                summary: changed("summary") ? v.summary : null,
                start: changed("start") ? fromLocalInput(v.start as string) : null,
                end: ended && changed("end") ? fromLocalInput(v.end as string) : null,
                silent: changed("silent") ? v.silent : null,
                autoStart: incident.status === "PLANNED" && changed("autoStart") ? v.autoStart : null,
              },
            });
            setBase(v);
            setSaved("Saved.");
            props.onChanged();
          });
        }}
      >
        <Field label="Title" name="title" value={form.values.title as string} onInput={(v) => form.set("title", v)} error={form.errorOf("title")} />
        <Select label="Severity" value={form.values.severity as string} options={SEVERITIES} onChange={(v) => form.set("severity", v)} error={form.errorOf("severity")} />
        <Field label="Summary (Markdown)" name="summary" multiline value={form.values.summary as string} onInput={(v) => form.set("summary", v)} error={form.errorOf("summary")} />
        <div class="row">
          <Field label="Start" type="datetime-local" value={form.values.start as string} onInput={(v) => form.set("start", v)} error={form.errorOf("start")} />
          {ended && <Field label="End" type="datetime-local" value={form.values.end as string} onInput={(v) => form.set("end", v)} error={form.errorOf("end")} />}
        </div>
        <Checkbox label="Never notify subscribers about this incident" checked={form.values.silent as boolean} onChange={(v) => form.set("silent", v)} />
        {incident.status === "PLANNED" && (
          <Checkbox label="Start automatically at its start time" checked={form.values.autoStart as boolean} onChange={(v) => form.set("autoStart", v)} />
        )}
        <Status message={form.formError} kind="error" />
        <Status message={saved} />
        <button type="submit" class="primary" disabled={form.busy}>
          Save corrections
        </button>
      </form>
    </section>
  );
}
