import { gql } from "../api";
import { CreateIncidentMutationDocument, type IncidentStatus, type Severity } from "../graphql/generated";
import { Checkbox, Field, fromLocalInput, navigate, required, Select, SEVERITIES, Status, useForm } from "../ui";

export function NewIncident() {
  const form = useForm(
    {
      kind: "incident",
      title: "",
      status: "CONFIRMED",
      severity: "OUTAGE",
      start: "",
      text: "",
      summary: "",
      silent: false,
      autoStart: true,
      doNotNotify: false,
    },
    { title: required("The title") },
  );
  const planned = form.values.kind === "maintenance";
  const plannedStartMissing = planned && !form.values.start;

  return (
    <>
      <h1 tabIndex={-1}>New incident or maintenance</h1>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          if (plannedStartMissing) {
            form.setFormError("Planned maintenance needs a start time.");
            return;
          }
          form.submit(
            async (v) => {
              const data = await gql(
                CreateIncidentMutationDocument,
                {
                  input: {
                    title: (v.title as string).trim(),
                    // The selects hold the enums' names.
                    status: planned ? "PLANNED" : (v.status as IncidentStatus),
                    severity: planned ? "MAINTENANCE" : (v.severity as Severity),
                    start: fromLocalInput(v.start as string),
                    text: (v.text as string).trim() || null,
                    summary: (v.summary as string).trim() || null,
                    silent: v.silent,
                    autoStart: planned && v.autoStart,
                    doNotNotify: v.doNotNotify,
                  },
                },
              );
              if (data.createIncident) navigate(`/admin/incidents/${data.createIncident.id}`);
              else navigate("/admin/");
            },
            { input: "title" },
          );
        }}
      >
        <fieldset>
          <legend>What is it?</legend>
          <label class="inline">
            <input type="radio" name="kind" checked={!planned} onChange={() => form.set("kind", "incident")} /> An incident happening now (or
            earlier)
          </label>
          <label class="inline">
            <input type="radio" name="kind" checked={planned} onChange={() => form.set("kind", "maintenance")} /> Planned maintenance
          </label>
        </fieldset>
        <Field label="Title" name="title" value={form.values.title as string} onInput={(v) => form.set("title", v)} error={form.errorOf("title")} required />
        {!planned && (
          <div class="row">
            <Select
              label="Status"
              value={form.values.status as string}
              options={[
                ["CONFIRMED", "Confirmed: we are working on it"],
                ["WATCHING", "Watching: a fix is in place"],
              ]}
              onChange={(v) => form.set("status", v)}
              error={form.errorOf("status")}
            />
            <Select label="Severity" value={form.values.severity as string} options={SEVERITIES.filter(([s]) => s !== "MAINTENANCE")} onChange={(v) => form.set("severity", v)} error={form.errorOf("severity")} />
          </div>
        )}
        <Field
          label={planned ? "Start" : "Start (empty: now)"}
          type="datetime-local"
          name="start"
          value={form.values.start as string}
          onInput={(v) => form.set("start", v)}
          error={form.errorOf("start") ?? (plannedStartMissing && form.formError ? "Planned maintenance needs a start time." : undefined)}
        />
        {planned && <Checkbox label="Start automatically at its start time" checked={form.values.autoStart as boolean} onChange={(v) => form.set("autoStart", v)} />}
        <Field label="First timeline entry (Markdown)" name="text" multiline value={form.values.text as string} onInput={(v) => form.set("text", v)} error={form.errorOf("text")} />
        <Field label="Summary (Markdown, optional)" name="summary" multiline value={form.values.summary as string} onInput={(v) => form.set("summary", v)} error={form.errorOf("summary")} />
        <Checkbox label="Do not notify subscribers about this change" checked={form.values.doNotNotify as boolean} onChange={(v) => form.set("doNotNotify", v)} />
        <Checkbox label="Never notify subscribers about this incident" checked={form.values.silent as boolean} onChange={(v) => form.set("silent", v)} />
        <Status message={form.formError} kind="error" />
        <button type="submit" class="primary" disabled={form.busy}>
          {planned ? "Plan maintenance" : "Open incident"}
        </button>
      </form>
    </>
  );
}
