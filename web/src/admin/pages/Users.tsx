import { useState } from "preact/hooks";
import { gql, webauthnCreate, type User } from "../api";
import {
  BeginTotpEnrolmentMutationDocument,
  BeginWebauthnRegistrationMutationDocument,
  ConfirmTotpEnrolmentMutationDocument,
  CreateUserMutationDocument,
  FinishWebauthnRegistrationMutationDocument,
  RemoveSecondFactorMutationDocument,
  ResetPasswordMutationDocument,
  ResetSecondFactorsMutationDocument,
  SecondFactorsQueryDocument,
  SetUserActiveMutationDocument,
  UsersQueryDocument,
  type UsersQuery,
} from "../graphql/generated";
import { Field, formatTime, messageOf, required, Status, useForm, useLoad } from "../ui";

type Account = UsersQuery["users"][number];

const MIN_PASSWORD = 10;
const password = (v: string) => (v.length >= MIN_PASSWORD ? null : `Use at least ${MIN_PASSWORD} characters.`);

export function UsersPage(props: { self: User }) {
  const { data, error, reload } = useLoad(() => gql(UsersQueryDocument).then((d) => d.users));
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  const [resetting, setResetting] = useState<Account | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Users</h1>
      <Status message={error} kind="error" />
      <Status message={message?.text ?? null} kind={message?.kind} />
      {data && (
        <div class="table-wrap">
          <table class="list">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">State</th>
                <th scope="col">Last login</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((account) => (
                <tr data-user={account.username}>
                  <td>{account.username}</td>
                  <td>{account.active ? "active" : "deactivated"}</td>
                  <td>{formatTime(account.lastLogin)}</td>
                  <td class="buttons small">
                    {account.id !== props.self.id && (
                      <button
                        type="button"
                        onClick={async () => {
                          try {
                            await gql(SetUserActiveMutationDocument, { id: account.id, a: !account.active });
                            setMessage({ text: `${account.username} ${account.active ? "deactivated; their sessions ended" : "reactivated"}.`, kind: "ok" });
                            reload();
                          } catch (e) {
                            setMessage({ text: messageOf(e), kind: "error" });
                          }
                        }}
                      >
                        {account.active ? "Deactivate" : "Reactivate"}
                      </button>
                    )}
                    <button type="button" onClick={() => setResetting(account)}>
                      Reset password
                    </button>
                    <button
                      type="button"
                      onClick={async () => {
                        if (!confirm(`Remove every second factor of ${account.username}? They log in with the password alone until they enrol again.`)) return;
                        try {
                          const data = await gql(ResetSecondFactorsMutationDocument, { id: account.id });
                          setMessage({ text: `${data.resetSecondFactors} second factor(s) of ${account.username} removed.`, kind: "ok" });
                        } catch (e) {
                          setMessage({ text: messageOf(e), kind: "error" });
                        }
                      }}
                    >
                      Reset second factors
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {resetting && (
        <ResetPassword
          key={resetting.id}
          account={resetting}
          onDone={(text) => {
            setResetting(null);
            if (text) setMessage({ text, kind: "ok" });
          }}
        />
      )}
      <CreateUser onCreated={reload} />
    </>
  );
}

function ResetPassword(props: { account: Account; onDone: (message: string | null) => void }) {
  const form = useForm({ password: "" }, { password });
  return (
    <section class="panel" aria-labelledby="reset-h">
      <h2 id="reset-h">New password for {props.account.username}</h2>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          form.submit(async (v) => {
            await gql(ResetPasswordMutationDocument, { id: props.account.id, p: v.password });
            props.onDone(`New password set for ${props.account.username}; their sessions ended.`);
          });
        }}
      >
        <Field label="New password" type="password" autoComplete="new-password" value={form.values.password} onInput={(v) => form.set("password", v)} error={form.errorOf("password")} />
        <Status message={form.formError} kind="error" />
        <div class="buttons">
          <button type="submit" class="primary" disabled={form.busy}>
            Set password
          </button>
          <button type="button" onClick={() => props.onDone(null)}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}

function CreateUser(props: { onCreated: () => void }) {
  const form = useForm({ username: "", password: "" }, { username: required("The username"), password });
  const [done, setDone] = useState<string | null>(null);
  return (
    <section aria-labelledby="create-h">
      <h2 id="create-h">Create a user</h2>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setDone(null);
          form.submit(async (v) => {
            await gql(CreateUserMutationDocument, { u: v.username.trim(), p: v.password });
            setDone(`${v.username.trim()} can log in now.`);
            form.setValues({ username: "", password: "" });
            props.onCreated();
          });
        }}
      >
        <div class="row">
          <Field label="Username" autoComplete="off" value={form.values.username} onInput={(v) => form.set("username", v)} error={form.errorOf("username")} />
          <Field label="Password" type="password" autoComplete="new-password" value={form.values.password} onInput={(v) => form.set("password", v)} error={form.errorOf("password")} />
        </div>
        <Status message={form.formError} kind="error" />
        <Status message={done} />
        <button type="submit" class="primary" disabled={form.busy}>
          Create user
        </button>
      </form>
    </section>
  );
}

/** The logged-in user's own second factors. */
export function AccountPage(props: { user: User }) {
  const { data, error, reload } = useLoad(() => gql(SecondFactorsQueryDocument).then((d) => d.secondFactors));
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  const [totp, setTotp] = useState<{ factorId: number; secret: string; uri: string } | null>(null);
  const [keyName, setKeyName] = useState("");
  const codeForm = useForm({ code: "" }, { code: (v) => (/^\d{6}$/.test(v.trim()) ? null : "Enter the six digits your app shows.") });
  const [appName, setAppName] = useState("");

  return (
    <>
      <h1 tabIndex={-1}>My account: {props.user.username}</h1>
      <h2>Second factors</h2>
      <p>With a second factor, logging in asks for a code from an authenticator app or a security key after the password.</p>
      <Status message={error} kind="error" />
      <Status message={message?.text ?? null} kind={message?.kind} />
      {data && data.length === 0 && <p>None yet: the password alone logs you in.</p>}
      {data && data.length > 0 && (
        <ul class="factors">
          {data.map((f) => (
            <li data-factor={f.kind}>
              <strong>{f.name}</strong> ({f.kind === "TOTP" ? "authenticator app" : "security key"}), added {formatTime(f.created)}
              {f.lastUsed && `, last used ${formatTime(f.lastUsed)}`}{" "}
              <button
                type="button"
                aria-label={`Remove ${f.name}`}
                onClick={async () => {
                  if (!confirm(`Remove ${f.name}?`)) return;
                  try {
                    await gql(RemoveSecondFactorMutationDocument, { id: f.id });
                    setMessage({ text: `${f.name} removed.`, kind: "ok" });
                    reload();
                  } catch (e) {
                    setMessage({ text: messageOf(e), kind: "error" });
                  }
                }}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <section class="panel" aria-labelledby="totp-h">
        <h3 id="totp-h">Add an authenticator app</h3>
        {!totp ? (
          <form
            onSubmit={async (event) => {
              event.preventDefault();
              try {
                const d = await gql(BeginTotpEnrolmentMutationDocument, { n: appName.trim() || null });
                setTotp(d.beginTotpEnrolment);
              } catch (e) {
                setMessage({ text: messageOf(e), kind: "error" });
              }
            }}
          >
            <Field label="Name (optional)" hint="e.g. “Phone”." value={appName} onInput={setAppName} />
            <button type="submit">Start</button>
          </form>
        ) : (
          <form
            noValidate
            onSubmit={(event) => {
              event.preventDefault();
              codeForm.submit(async (v) => {
                await gql(ConfirmTotpEnrolmentMutationDocument, { id: totp.factorId, c: v.code.trim() });
                setTotp(null);
                codeForm.setValues({ code: "" });
                setMessage({ text: "Authenticator app added: logins ask for a code from now on.", kind: "ok" });
                reload();
              });
            }}
          >
            <p>Add this account to your app with the link, or type the secret by hand. It is shown this once.</p>
            <dl class="secret">
              <dt>Secret</dt>
              <dd>
                <code id="totp-secret">{totp.secret}</code>
              </dd>
              <dt>Link</dt>
              <dd>
                <a href={totp.uri} id="totp-uri" class="mono">
                  {totp.uri}
                </a>
              </dd>
            </dl>
            <Field label="Code the app shows now" inputMode="numeric" autoComplete="one-time-code" value={codeForm.values.code} onInput={(v) => codeForm.set("code", v)} error={codeForm.errorOf("code")} />
            <Status message={codeForm.formError} kind="error" />
            <div class="buttons">
              <button type="submit" class="primary" disabled={codeForm.busy}>
                Confirm app
              </button>
              <button type="button" onClick={() => setTotp(null)}>
                Cancel
              </button>
            </div>
          </form>
        )}
      </section>
      <section class="panel" aria-labelledby="key-h">
        <h3 id="key-h">Add a security key</h3>
        <form
          onSubmit={async (event) => {
            event.preventDefault();
            try {
              const start = await gql(BeginWebauthnRegistrationMutationDocument, { n: keyName.trim() || null });
              const credential = await webauthnCreate(start.beginWebauthnRegistration.options);
              await gql(FinishWebauthnRegistrationMutationDocument, {
                id: start.beginWebauthnRegistration.registrationId,
                c: credential,
              });
              setKeyName("");
              setMessage({ text: "Security key added: logins ask for it from now on.", kind: "ok" });
              reload();
            } catch (e) {
              setMessage({ text: `The security key was not added: ${messageOf(e)}`, kind: "error" });
            }
          }}
        >
          <Field label="Key name (optional)" hint="e.g. “YubiKey on my keyring”." value={keyName} onInput={setKeyName} />
          <button type="submit">Register security key</button>
        </form>
      </section>
    </>
  );
}
