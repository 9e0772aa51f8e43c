import { useEffect, useState } from "preact/hooks";
import { gql, onEvent } from "../api";
import {
  AddSubscriberMutationDocument,
  ExportSubscribersQueryDocument,
  ImportSubscribersMutationDocument,
  RemoveSubscriberMutationDocument,
  SubscribersQueryDocument,
  type ImportSubscribersMutation,
  type SubscribersQuery,
} from "../graphql/generated";
import { Checkbox, email, Field, formatTime, messageOf, required, Status, useForm } from "../ui";

type Subscriber = SubscribersQuery["subscribers"][number];
type ImportResult = ImportSubscribersMutation["importSubscribers"];

const PAGE = 50;

export function SubscribersPage() {
  const [search, setSearch] = useState("");
  const [offset, setOffset] = useState(0);
  const [list, setList] = useState<Subscriber[]>([]);
  const [counts, setCounts] = useState<SubscribersQuery["subscriberCounts"] | null>(null);
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => onEvent((e) => e.kind === "subscribers_changed" && setTick((t) => t + 1)), []);
  useEffect(() => {
    let stale = false;
    const timer = setTimeout(() => {
      gql(SubscribersQueryDocument, { s: search.trim(), o: offset, f: PAGE })
        .then((d) => {
          if (stale) return;
          setList(d.subscribers);
          setCounts(d.subscriberCounts);
        })
        .catch((e) => !stale && setMessage({ text: messageOf(e), kind: "error" }));
    }, 200);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [search, offset, tick]);

  const reload = () => setTick((t) => t + 1);

  return (
    <>
      <h1 tabIndex={-1}>Subscribers</h1>
      {counts && (
        <p id="subscriber-counts">
          <strong>{counts.active}</strong> active, <strong>{counts.pending}</strong> waiting for their confirmation.
        </p>
      )}
      {counts && counts.optInMailsPerHour > 0 && counts.optInMailsLastHour >= counts.optInMailsPerHour && (
        <div class="warning" role="status" id="optin-cap">
          New subscriptions are being turned away: {counts.optInMailsLastHour} confirmation mails went out in the last
          hour, the most <code>MONOSTAT_OPTIN_MAILS_PER_HOUR</code> allows ({counts.optInMailsPerHour}). Visitors are
          asked to try again later. If this is not an attack, raise the limit.
        </div>
      )}
      <Status message={message?.text ?? null} kind={message?.kind} />
      <AddSubscriber onAdded={reload} />
      <section aria-labelledby="list-h">
        <h2 id="list-h">List</h2>
        <div class="field">
          <label for="subscriber-search">Search addresses</label>
          <input
            id="subscriber-search"
            type="search"
            value={search}
            onInput={(e) => {
              setSearch((e.currentTarget as HTMLInputElement).value);
              setOffset(0);
            }}
          />
        </div>
        {list.length === 0 ? (
          <p>No subscribers{search ? " match" : " yet"}.</p>
        ) : (
          <div class="table-wrap">
            <table class="list">
              <thead>
                <tr>
                  <th scope="col">Address</th>
                  <th scope="col">State</th>
                  <th scope="col">Since</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((s) => (
                  <tr data-email={s.email}>
                    <td>{s.email}</td>
                    <td>{s.active ? "active" : "waiting for confirmation"}</td>
                    <td>{formatTime(s.confirmed ?? s.created)}</td>
                    <td>
                      <button
                        type="button"
                        aria-label={`Remove ${s.email}`}
                        onClick={async () => {
                          if (!confirm(`Remove ${s.email}?`)) return;
                          try {
                            await gql(RemoveSubscriberMutationDocument, { id: s.id });
                            setMessage({ text: `${s.email} removed.`, kind: "ok" });
                            reload();
                          } catch (e) {
                            setMessage({ text: messageOf(e), kind: "error" });
                          }
                        }}
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {(offset > 0 || list.length === PAGE) && (
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Previous
            </button>
            <button type="button" disabled={list.length < PAGE} onClick={() => setOffset(offset + PAGE)}>
              Next
            </button>
          </nav>
        )}
      </section>
      <ImportExport onImported={reload} />
    </>
  );
}

function AddSubscriber(props: { onAdded: () => void }) {
  const form = useForm({ email: "", consented: false }, { email: (v) => required("The address")(v) ?? email(v) });
  const [done, setDone] = useState<string | null>(null);
  return (
    <section aria-labelledby="add-h">
      <h2 id="add-h">Add a subscriber</h2>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setDone(null);
          form.submit(
            async (v) => {
              const data = await gql(AddSubscriberMutationDocument, {
                e: (v.email as string).trim(),
                c: v.consented,
              });
              setDone(data.addSubscriber.active ? `${data.addSubscriber.email} added.` : `${data.addSubscriber.email} added; they get a mail to confirm.`);
              form.setValues({ email: "", consented: false });
              props.onAdded();
            },
            { email: "email", address: "email" },
          );
        }}
      >
        <Field label="E-mail address" type="email" value={form.values.email as string} onInput={(v) => form.set("email", v)} error={form.errorOf("email")} />
        <Checkbox
          label="This person already agreed to receive notifications"
          hint="Otherwise they get the opt-in mail like any visitor."
          checked={form.values.consented as boolean}
          onChange={(v) => form.set("consented", v)}
        />
        <Status message={form.formError} kind="error" />
        <Status message={done} />
        <button type="submit" class="primary" disabled={form.busy}>
          Add subscriber
        </button>
      </form>
    </section>
  );
}

function ImportExport(props: { onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [consented, setConsented] = useState(false);
  const [report, setReport] = useState<ImportResult | null>(null);
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  return (
    <section aria-labelledby="csv-h">
      <h2 id="csv-h">CSV export and import</h2>
      <button
        type="button"
        onClick={async () => {
          try {
            const data = await gql(ExportSubscribersQueryDocument);
            const link = document.createElement("a");
            link.href = URL.createObjectURL(new Blob([data.exportSubscribers], { type: "text/csv" }));
            link.download = `subscribers-${new Date().toISOString().slice(0, 10)}.csv`;
            document.body.append(link);
            link.click();
            link.remove();
            setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
          } catch (e) {
            setMessage({ text: messageOf(e), kind: "error" });
          }
        }}
      >
        Download CSV
      </button>
      <form
        class="import"
        onSubmit={async (event) => {
          event.preventDefault();
          if (!file) return;
          setReport(null);
          try {
            const csv = await file.text();
            const data = await gql(ImportSubscribersMutationDocument, {
              csv,
              c: consented,
            });
            setReport(data.importSubscribers);
            setMessage(null);
            props.onImported();
          } catch (e) {
            setMessage({ text: `Not imported: ${messageOf(e)}`, kind: "error" });
          }
        }}
      >
        <div class="field">
          <label for="csv-file">CSV file (addresses in the first column)</label>
          <input id="csv-file" type="file" accept=".csv,text/csv" onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)} />
        </div>
        <Checkbox label="These people already agreed to receive notifications" checked={consented} onChange={setConsented} />
        <button type="submit" class="primary" disabled={!file}>
          Import
        </button>
      </form>
      <Status message={message?.text ?? null} kind={message?.kind} />
      {report && (
        <div class="notice ok" id="import-report" role="status">
          <p>
            <strong>{report.added}</strong> added, {report.duplicates.length} already on the list, {report.invalid.length} not an address.
          </p>
          {report.duplicates.length > 0 && (
            <details>
              <summary>Already on the list</summary>
              <ul>
                {report.duplicates.map((d) => (
                  <li>{d}</li>
                ))}
              </ul>
            </details>
          )}
          {report.invalid.length > 0 && (
            <details open>
              <summary>Not imported</summary>
              <ul>
                {report.invalid.map((d) => (
                  <li>{d}</li>
                ))}
              </ul>
            </details>
          )}
        </div>
      )}
    </section>
  );
}
