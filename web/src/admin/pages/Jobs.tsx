import { useState } from "preact/hooks";
import { gql } from "../api";
import { AuditLogQueryDocument, JobsQueryDocument, RetryJobMutationDocument, type JobsQuery } from "../graphql/generated";
import { formatTime, messageOf, Status, useLoad } from "../ui";
import { AuditList } from "./IncidentDetail";

type Job = JobsQuery["dead"][number];

export function JobsPage() {
  const { data, error, reload } = useLoad(() => gql(JobsQueryDocument));
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Jobs</h1>
      <p>Background work: Slack messages, notification mails, scheduled maintenance. A dead job gave up; retry it once the cause is fixed.</p>
      <Status message={error} kind="error" />
      <Status message={message?.text ?? null} kind={message?.kind} />
      <button type="button" onClick={reload}>
        Refresh
      </button>
      {data && (
        <>
          <p id="job-counts">{data.jobCounts.map((c) => `${c.count} ${c.state}`).join(", ") || "No jobs."}</p>
          <h2>Dead</h2>
          <JobTable
            jobs={data.dead}
            retry={async (job) => {
              try {
                await gql(RetryJobMutationDocument, { id: job.id });
                setMessage({ text: `Job ${job.id} (${job.kind}) is queued again.`, kind: "ok" });
                reload();
              } catch (e) {
                setMessage({ text: messageOf(e), kind: "error" });
              }
            }}
          />
          <h2>Pending</h2>
          <JobTable jobs={data.pending} />
        </>
      )}
    </>
  );
}

function JobTable(props: { jobs: Job[]; retry?: (job: Job) => void }) {
  if (!props.jobs.length) return <p>None.</p>;
  return (
    <div class="table-wrap">
      <table class="list">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Kind</th>
            <th scope="col">Attempts</th>
            <th scope="col">{props.retry ? "Last error" : "Runs at"}</th>
            {props.retry && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {props.jobs.map((job) => (
            <tr data-job={job.id}>
              <td>{job.id}</td>
              <td>
                <code>{job.kind}</code>
              </td>
              <td>
                {job.attempts} of {job.maxAttempts}
              </td>
              <td>{props.retry ? (job.lastError ?? "—") : formatTime(job.runAt)}</td>
              {props.retry && (
                <td>
                  <button type="button" aria-label={`Retry job ${job.id}`} onClick={() => props.retry!(job)}>
                    Retry
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AuditPage() {
  const { data, error } = useLoad(() =>
    gql(AuditLogQueryDocument).then((d) => d.auditLog),
  );
  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <p>Who changed what, newest first (the last 200 entries).</p>
      <Status message={error} kind="error" />
      {data && <AuditList entries={data} />}
    </>
  );
}
