import { useState } from "preact/hooks";
import { gql, startSession, webauthnGet, type LoginResult, type SecondFactorChallenge, type User } from "../api";
import { LoginMutationDocument, LoginTotpMutationDocument, LoginWebauthnMutationDocument } from "../graphql/generated";
import { Field, messageOf, required, Status, useForm } from "../ui";

/** Password first; then a code or the security key when the user has a second factor. */
export function Login(props: { onLoggedIn: (user: User) => void }) {
  const [challenge, setChallenge] = useState<SecondFactorChallenge | null>(null);
  const form = useForm({ username: "", password: "" }, { username: required("The username"), password: required("The password") });

  const finish = (result: LoginResult) => {
    if (result.secondFactor) {
      setChallenge(result.secondFactor);
      return;
    }
    startSession(result);
    props.onLoggedIn(result.user);
  };

  if (challenge) return <SecondFactor challenge={challenge} onDone={finish} onRestart={() => setChallenge(null)} />;

  return (
    <>
      <h1 tabIndex={-1}>Log in to the console</h1>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          form.submit(async ({ username, password }) => {
            const data = await gql(LoginMutationDocument, { u: username, p: password });
            finish(data.login);
          });
        }}
      >
        <Field label="Username" name="username" autoComplete="username" value={form.values.username} onInput={(v) => form.set("username", v)} error={form.errorOf("username")} required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" value={form.values.password} onInput={(v) => form.set("password", v)} error={form.errorOf("password")} required />
        <Status message={form.formError?.replace(/^Not saved: /, "") ?? null} kind="error" />
        <button type="submit" class="primary" disabled={form.busy}>
          Log in
        </button>
      </form>
    </>
  );
}

function SecondFactor(props: { challenge: SecondFactorChallenge; onDone: (result: LoginResult) => void; onRestart: () => void }) {
  const { challenge } = props;
  const form = useForm({ code: "" }, { code: (v) => (/^\d{6}$/.test(v.trim()) ? null : "Enter the six digits your app shows.") });
  const [keyError, setKeyError] = useState<string | null>(null);
  const hasTotp = challenge.methods.includes("TOTP");
  const hasKey = challenge.methods.includes("WEBAUTHN") && challenge.webauthnOptions;

  const useKey = async () => {
    setKeyError(null);
    try {
      const credential = await webauthnGet(challenge.webauthnOptions!);
      const data = await gql(LoginWebauthnMutationDocument, { t: challenge.pendingToken, c: credential });
      props.onDone(data.loginWebauthn);
    } catch (error) {
      setKeyError(`The security key did not log you in: ${messageOf(error)} Log in again to retry.`);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Second step</h1>
      <p>Your password was right. Confirm it is you with your second factor.</p>
      {hasTotp && (
        <form
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            form.submit(async ({ code }) => {
              const data = await gql(LoginTotpMutationDocument, { t: challenge.pendingToken, c: code.trim() });
              props.onDone(data.loginTotp);
            });
          }}
        >
          <Field label="Code from your authenticator app" name="code" inputMode="numeric" autoComplete="one-time-code" value={form.values.code} onInput={(v) => form.set("code", v)} error={form.errorOf("code")} />
          <Status message={form.formError?.replace(/^Not saved: /, "") ?? null} kind="error" />
          <button type="submit" class="primary" disabled={form.busy}>
            Confirm code
          </button>
        </form>
      )}
      {hasKey && (
        <div class="stack">
          <button type="button" class={hasTotp ? "" : "primary"} onClick={useKey}>
            Use security key
          </button>
          <Status message={keyError} kind="error" />
        </div>
      )}
      <p>
        <button type="button" class="link" onClick={props.onRestart}>
          Start again with the password
        </button>
      </p>
    </>
  );
}
