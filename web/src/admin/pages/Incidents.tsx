import { useEffect, useState } from "preact/hooks";
import { gql, onEvent } from "../api";
import { ConsoleIncidentsQueryDocument, type ConsoleIncidentsQuery, type IncidentStatus, type Severity } from "../graphql/generated";
import { formatTime, Link, SEVERITIES, SEVERITY_LABEL, STATUS_LABEL, Status } from "../ui";

export type ListedIncident = ConsoleIncidentsQuery["consoleIncidents"]["incidents"][number];

const PAGE = 20;

interface Filter {
  statuses: string[];
  severity: string;
  from: string;
  to: string;
  text: string;
}

export function IncidentList() {
  const [filter, setFilter] = useState<Filter>({ statuses: [], severity: "", from: "", to: "", text: "" });
  const [offset, setOffset] = useState(0);
  // The offset travels with its answer, so the "showing" line never mixes a new page
  // number with the old rows.
  const [result, setResult] = useState<{ total: number; incidents: ListedIncident[]; offset: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => onEvent((event) => event.kind !== "settings_changed" && event.kind !== "subscribers_changed" && setTick((t) => t + 1)), []);

  useEffect(() => {
    let stale = false;
    const variables = {
      filter: {
        // The form's values are the enums' names, as the select and checkboxes hold them.
        statuses: filter.statuses.length ? (filter.statuses as IncidentStatus[]) : null,
        severities: filter.severity ? [filter.severity as Severity] : null,
        from: filter.from ? new Date(`${filter.from}T00:00:00`).toISOString() : null,
        to: filter.to ? new Date(`${filter.to}T23:59:59`).toISOString() : null,
        text: filter.text.trim() || null,
      },
      offset,
      first: PAGE,
    };
    // Typing in the search waits for a pause before asking the server.
    const timer = setTimeout(() => {
      gql(ConsoleIncidentsQueryDocument, variables)
        .then((data) => {
          if (!stale) {
            setResult({ ...data.consoleIncidents, offset });
            setError(null);
          }
        })
        .catch((e) => !stale && setError(String(e.message ?? e)));
    }, 200);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [filter, offset, tick]);

  const change = (patch: Partial<Filter>) => {
    setFilter((old) => ({ ...old, ...patch }));
    setOffset(0);
  };

  return (
    <>
      <div class="title-row">
        <h1 tabIndex={-1}>Incidents</h1>
        <Link href="/admin/incidents/new" class="button primary">
          New incident or maintenance
        </Link>
      </div>
      <form class="filters" role="search" aria-label="Filter incidents" onSubmit={(e) => e.preventDefault()}>
        <fieldset>
          <legend>Status</legend>
          {Object.entries(STATUS_LABEL).map(([value, label]) => (
            <label class="inline">
              <input
                type="checkbox"
                checked={filter.statuses.includes(value)}
                onChange={(e) =>
                  change({
                    statuses: (e.currentTarget as HTMLInputElement).checked
                      ? [...filter.statuses, value]
                      : filter.statuses.filter((s) => s !== value),
                  })
                }
              />{" "}
              {label}
            </label>
          ))}
        </fieldset>
        <div class="filter-fields">
          <label>
            Severity
            <select value={filter.severity} onChange={(e) => change({ severity: (e.currentTarget as HTMLSelectElement).value })}>
              <option value="">Any</option>
              {SEVERITIES.map(([value, label]) => (
                <option value={value}>{label}</option>
              ))}
            </select>
          </label>
          <label>
            From
            <input type="date" value={filter.from} onInput={(e) => change({ from: (e.currentTarget as HTMLInputElement).value })} />
          </label>
          <label>
            To
            <input type="date" value={filter.to} onInput={(e) => change({ to: (e.currentTarget as HTMLInputElement).value })} />
          </label>
          <label>
            Text
            <input type="search" value={filter.text} onInput={(e) => change({ text: (e.currentTarget as HTMLInputElement).value })} />
          </label>
        </div>
      </form>
      <Status message={error} kind="error" />
      {result && (
        <>
          <p aria-live="polite">
            {result.total === 0 ? "No incidents match." : `${result.total} incident${result.total === 1 ? "" : "s"}`}
            {result.total > PAGE && `, showing ${result.offset + 1}–${Math.min(result.offset + PAGE, result.total)}`}
          </p>
          {result.incidents.length > 0 && (
            <div class="table-wrap">
              <table class="list">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Title</th>
                    <th scope="col">Status</th>
                    <th scope="col">Severity</th>
                    <th scope="col">Start</th>
                    <th scope="col">End</th>
                  </tr>
                </thead>
                <tbody>
                  {result.incidents.map((incident) => (
                    <tr data-incident={incident.id}>
                      <td>{incident.id}</td>
                      <td>
                        <Link href={`/admin/incidents/${incident.id}`}>{incident.title}</Link>
                        {incident.origin !== "MANUAL" && <span class="tag">{incident.origin.toLowerCase()}</span>}
                      </td>
                      <td>
                        <span class={`pill s-${incident.status.toLowerCase()}`}>{STATUS_LABEL[incident.status]}</span>
                      </td>
                      <td>{SEVERITY_LABEL[incident.severity]}</td>
                      <td>{formatTime(incident.start)}</td>
                      <td>{formatTime(incident.end)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {result.total > PAGE && (
            <nav class="pager" aria-label="Pages">
              <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                Newer
              </button>
              <button type="button" disabled={offset + PAGE >= result.total} onClick={() => setOffset(offset + PAGE)}>
                Older
              </button>
            </nav>
          )}
        </>
      )}
    </>
  );
}
