// The password asked again before a step-up change (users, passwords, second factors of
// others, secrets): the server answers REAUTHENTICATION_REQUIRED when the last one is
// older than five minutes, and api.ts sends the change again once this dialog succeeds.

import { useEffect, useRef, useState } from "preact/hooks";
import { reauthenticate, whenStepUpNeeded } from "./api";
import { messageOf } from "./ui";

export function StepUpDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const settle = useRef<((ok: boolean) => void) | null>(null);
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Closed, the dialog holds no fields, so the page's own "Password" fields stay the only ones.
  const [open, setOpen] = useState(false);

  useEffect(() => {
    if (open) dialog.current?.showModal();
  }, [open]);

  useEffect(
    () =>
      whenStepUpNeeded(
        () =>
          new Promise<boolean>((resolve) => {
            settle.current = resolve;
            setPassword("");
            setCode("");
            setError(null);
            setOpen(true);
          }),
      ),
    [],
  );

  const finish = (ok: boolean) => {
    dialog.current?.close();
    setOpen(false);
    settle.current?.(ok);
    settle.current = null;
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!password && !code.trim()) return setError("Enter your password or a code from your authenticator app.");
    setBusy(true);
    try {
      await reauthenticate(password || null, code.trim() || null);
      finish(true);
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} aria-labelledby="step-up-title" class="step-up" onCancel={() => finish(false)}>
      {open && (
      <form onSubmit={submit} noValidate>
        <h2 id="step-up-title">Confirm it is you</h2>
        <p>This change needs your password again (or a code from your authenticator app).</p>
        <div class="field">
          <label for="step-up-password">Password</label>
          <input
            id="step-up-password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="step-up-code">Or authenticator code</label>
          <input
            id="step-up-code"
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Confirm
          </button>
          <button type="button" onClick={() => finish(false)}>
            Cancel
          </button>
        </div>
      </form>
      )}
    </dialog>
  );
}
