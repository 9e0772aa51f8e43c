import { useState } from "preact/hooks";
import { gql } from "../api";
import {
  AlertSourcesQueryDocument,
  NotificationSettingsQueryDocument,
  RotateAlertSourceSecretMutationDocument,
  SetSlackSettingsMutationDocument,
  SlackSettingsQueryDocument,
  TestSlackMutationDocument,
  UpdateNotificationSettingsMutationDocument,
  type NotificationSettingsQuery,
  type SlackSettingsQuery,
} from "../graphql/generated";
import { Checkbox, email, Field, messageOf, Status, useForm, useLoad } from "../ui";

type NotificationSettings = NotificationSettingsQuery["notificationSettings"];

export function NotificationSettingsPage() {
  const { data, error } = useLoad(() =>
    gql(NotificationSettingsQueryDocument).then((d) => d.notificationSettings),
  );
  return (
    <>
      <h1 tabIndex={-1}>Notification settings</h1>
      <Status message={error} kind="error" />
      {data && <NotificationForm settings={data} />}
    </>
  );
}

function NotificationForm(props: { settings: NotificationSettings }) {
  const form = useForm(
    { allowSubscriptions: props.settings.allowSubscriptions, replyTo: props.settings.replyTo ?? "", notifyMaintenance: props.settings.notifyMaintenance },
    { replyTo: email },
  );
  const [saved, setSaved] = useState<string | null>(null);
  return (
    <form
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        setSaved(null);
        form.submit(
          async (input) => {
            await gql(UpdateNotificationSettingsMutationDocument, { input });
            setSaved("Saved.");
          },
          { "reply-to": "replyTo" },
        );
      }}
    >
      <Checkbox
        label="Visitors may subscribe to e-mail notifications"
        checked={form.values.allowSubscriptions as boolean}
        onChange={(v) => form.set("allowSubscriptions", v)}
      />
      <Checkbox
        label="Announce planned maintenance to subscribers"
        hint="When it is scheduled and when it starts."
        checked={form.values.notifyMaintenance as boolean}
        onChange={(v) => form.set("notifyMaintenance", v)}
      />
      <Field label="Reply-to address" type="email" hint="Replies to notification mails go here; empty: no Reply-To." value={form.values.replyTo as string} onInput={(v) => form.set("replyTo", v)} error={form.errorOf("replyTo")} />
      <Status message={form.formError} kind="error" />
      <Status message={saved} />
      <button type="submit" class="primary" disabled={form.busy}>
        Save notification settings
      </button>
    </form>
  );
}

type SlackSettings = SlackSettingsQuery["slackSettings"];

export function SlackSettingsPage() {
  const { data, error, setData } = useLoad(() => gql(SlackSettingsQueryDocument).then((d) => d.slackSettings));
  return (
    <>
      <h1 tabIndex={-1}>Slack</h1>
      <p>
        monostat posts every incident to a Slack channel and takes commands from it. Create the app from <code>slack-app.json</code> in the
        repository, then enter its bot token, signing secret and the channel here.
      </p>
      <Status message={error} kind="error" />
      {data && <SlackForm settings={data} onSaved={setData} />}
    </>
  );
}

function SlackForm(props: { settings: SlackSettings; onSaved: (s: SlackSettings) => void }) {
  const s = props.settings;
  const form = useForm(
    {
      botToken: "",
      signingSecret: "",
      channel: s.channel ?? "",
      onlyListed: s.allowedUserIds != null,
      allowedUserIds: (s.allowedUserIds ?? []).join(", "),
    },
    {
      botToken: (v) => (!v || v.startsWith("xoxb-") ? null : "The bot token starts with xoxb-."),
    },
  );
  const onlyListed = form.values.onlyListed as boolean;
  const [saved, setSaved] = useState<string | null>(null);
  const [check, setCheck] = useState<{ ok: boolean; message: string } | null>(null);
  const [testing, setTesting] = useState(false);
  const env = "Set in the environment; change it there.";
  return (
    <>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setSaved(null);
          form.submit(
            async (v) => {
              const input: Record<string, string> = {};
              if (!s.botTokenFromEnvironment && v.botToken) input.botToken = v.botToken as string;
              if (!s.signingSecretFromEnvironment && v.signingSecret) input.signingSecret = v.signingSecret as string;
              if (!s.channelFromEnvironment) input.channel = v.channel as string;
              // An empty list means the members of the channel.
              const allowedUserIds = v.onlyListed ? (v.allowedUserIds as string).split(/[\s,]+/).filter(Boolean) : [];
              const data = await gql(SetSlackSettingsMutationDocument, { input: { ...input, allowedUserIds } });
              const saved = data.setSlackSettings;
              form.setValues({
                botToken: "",
                signingSecret: "",
                channel: saved.channel ?? "",
                onlyListed: saved.allowedUserIds != null,
                allowedUserIds: (saved.allowedUserIds ?? []).join(", "),
              });
              props.onSaved(data.setSlackSettings);
              setSaved("Saved. In force at once.");
            },
            { "bot token": "botToken", "signing secret": "signingSecret", channel: "channel", "allowed users": "allowedUserIds" },
          );
        }}
      >
        <Field
          label="Bot token"
          type="password"
          autoComplete="off"
          readOnly={s.botTokenFromEnvironment}
          hint={s.botTokenFromEnvironment ? env : s.botTokenSet ? "A token is set; enter a new one to replace it." : "Not set. Starts with xoxb-."}
          value={form.values.botToken as string}
          onInput={(v) => form.set("botToken", v)}
          error={form.errorOf("botToken")}
        />
        <Field
          label="Signing secret"
          type="password"
          autoComplete="off"
          readOnly={s.signingSecretFromEnvironment}
          hint={s.signingSecretFromEnvironment ? env : s.signingSecretSet ? "A secret is set; enter a new one to replace it." : "Not set."}
          value={form.values.signingSecret as string}
          onInput={(v) => form.set("signingSecret", v)}
          error={form.errorOf("signingSecret")}
        />
        <Field
          label="Channel"
          readOnly={s.channelFromEnvironment}
          hint={s.channelFromEnvironment ? env : `A public channel, with or without #.${s.channelId ? ` Found as ${s.channelId}.` : ""}`}
          value={form.values.channel as string}
          onInput={(v) => form.set("channel", v)}
          error={form.errorOf("channel")}
        />
        <fieldset>
          <legend>Who may change the status page from Slack</legend>
          <label class="inline">
            <input type="radio" name="slack-actors" checked={!onlyListed} onChange={() => form.set("onlyListed", false)} /> Members of the channel
          </label>
          <label class="inline">
            <input type="radio" name="slack-actors" checked={onlyListed} onChange={() => form.set("onlyListed", true)} /> Only these user ids
          </label>
        </fieldset>
        {onlyListed && (
          <Field
            label="Slack user ids"
            multiline
            hint="Separated by commas or spaces, e.g. U0ABC5678 (a profile's ⋮ menu, “Copy member ID”). Everyone in the workspace can still see /status."
            value={form.values.allowedUserIds as string}
            onInput={(v) => form.set("allowedUserIds", v)}
            error={form.errorOf("allowedUserIds")}
          />
        )}
        <Status message={form.formError} kind="error" />
        <Status message={saved} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={form.busy}>
            Save Slack settings
          </button>
          <button
            type="button"
            disabled={testing}
            onClick={async () => {
              setTesting(true);
              setCheck(null);
              try {
                const data = await gql(TestSlackMutationDocument);
                setCheck(data.testSlack);
              } catch (e) {
                setCheck({ ok: false, message: messageOf(e) });
              } finally {
                setTesting(false);
              }
            }}
          >
            {testing ? "Testing…" : "Test the connection"}
          </button>
        </div>
      </form>
      {check && (
        <div class={check.ok ? "notice ok" : "warning"} role="status" id="slack-check">
          <strong>{check.ok ? "Slack works." : "Slack does not work yet."}</strong> {check.message}
        </div>
      )}
    </>
  );
}

const SOURCE_NAME: Record<string, string> = {
  OPSGENIE: "OpsGenie",
  ALERTMANAGER: "Prometheus Alertmanager",
  GRAFANA: "Grafana",
  PAGERDUTY: "PagerDuty",
  GENERIC: "Generic webhook",
};

/** Said plainly, like `monostat simulate-alert` does: nobody should mistake it for a problem. */
const TEST_MESSAGE = "Test alert from the monostat console (not a real problem)";

/**
 * Plays OpsGenie against the source's own webhook URL, as `monostat simulate-alert`
 * does: the point is to prove the wiring, so it goes through the real hook. Opens the
 * alert, then closes it.
 */
async function sendOpsgenieTestAlert(webhookUrl: string) {
  const alertId = `monostat-console-test-${crypto.randomUUID()}`;
  for (const action of ["Create", "Close"]) {
    const now = Date.now();
    const response = await fetch(webhookUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        action,
        alert: {
          alertId,
          message: TEST_MESSAGE,
          description: "Sent from the console's alert sources page to check the set-up.",
          createdAt: now,
          updatedAt: now,
          source: "monostat console",
          username: "System",
          tags: ["monostat-test"],
        },
        source: { name: "monostat console", type: "web" },
      }),
    });
    if (!response.ok) throw new Error(`the webhook answered ${response.status} to the ${action}: ${(await response.text()).slice(0, 200)}`);
  }
}

export function AlertSourcesPage() {
  const { data, error, setData } = useLoad(() => gql(AlertSourcesQueryDocument).then((d) => d.alertSources));
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Alert sources</h1>
      <p>Paste a source's webhook URL into the monitoring tool. The URL contains the secret: treat it like a password.</p>
      <Status message={error} kind="error" />
      <Status message={message?.text ?? null} kind={message?.kind} />
      {data?.map((source) => (
        <section class="panel" aria-labelledby={`src-${source.source}`} data-source={source.source}>
          <h2 id={`src-${source.source}`}>{SOURCE_NAME[source.source] ?? source.source}</h2>
          <div class="field">
            <label for={`url-${source.source}`}>Webhook URL</label>
            <div class="copy-row">
              <input id={`url-${source.source}`} class="mono" readOnly value={source.webhookUrl} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
              <button
                type="button"
                onClick={async () => {
                  try {
                    await navigator.clipboard.writeText(source.webhookUrl);
                    setMessage({ text: `${SOURCE_NAME[source.source]} URL copied.`, kind: "ok" });
                  } catch {
                    setMessage({ text: "Copying is not allowed here; select the URL and copy it by hand.", kind: "error" });
                  }
                }}
              >
                Copy
              </button>
            </div>
          </div>
          {source.source === "OPSGENIE" && (
            <p>
              <button
                type="button"
                onClick={async () => {
                  setMessage(null);
                  try {
                    await sendOpsgenieTestAlert(source.webhookUrl);
                    setMessage({ text: `Test alert sent and closed: “${TEST_MESSAGE}”. It shows in the incidents and the audit log.`, kind: "ok" });
                  } catch (e) {
                    setMessage({ text: `The test alert did not arrive: ${messageOf(e)}. Is the site URL this console's address?`, kind: "error" });
                  }
                }}
              >
                Send test alert
              </button>
            </p>
          )}
          {source.setByEnvironment ? (
            <p class="hint">The secret is set in the environment and cannot be rotated here.</p>
          ) : (
            <button
              type="button"
              onClick={async () => {
                if (!confirm(`Rotate the ${SOURCE_NAME[source.source]} secret? The old URL stops working at once.`)) return;
                try {
                  const result = await gql(RotateAlertSourceSecretMutationDocument, { s: source.source });
                  setData(data.map((d) => (d.source === source.source ? result.rotateAlertSourceSecret : d)));
                  setMessage({ text: `New ${SOURCE_NAME[source.source]} URL: update it in the monitoring tool.`, kind: "ok" });
                } catch (e) {
                  setMessage({ text: messageOf(e), kind: "error" });
                }
              }}
            >
              Rotate secret
            </button>
          )}
        </section>
      ))}
    </>
  );
}
