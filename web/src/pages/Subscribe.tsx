import { useEffect, useRef, useState } from "preact/hooks";
import type { PageProps } from "../props";
import { safeUrl } from "../components";
import { graphql, GraphQLError, SUBSCRIBE_MUTATION } from "../api";
import { t } from "../i18n";

type Phase = { state: "editing"; error?: string; field?: "email" | "consent" } | { state: "sending" } | { state: "done"; email: string };

/**
 * The subscription form. Without JavaScript it still works: it posts to `/subscribe`,
 * which the server answers with its own page (api/src/adapters/email/web.rs).
 */
export function SubscribePage({ status, setTitle }: PageProps) {
  const [phase, setPhase] = useState<Phase>({ state: "editing" });
  const email = useRef<HTMLInputElement>(null);
  const consent = useRef<HTMLInputElement>(null);
  const result = useRef<HTMLDivElement>(null);
  const site = status.site;
  useEffect(() => setTitle(t("subscribeTitle")), []);
  useEffect(() => {
    if (phase.state === "done") result.current?.focus();
    if (phase.state === "editing" && phase.field === "email") email.current?.focus();
    if (phase.state === "editing" && phase.field === "consent") consent.current?.focus();
  }, [phase]);

  const submit = async (event: Event) => {
    event.preventDefault();
    const address = email.current?.value.trim() ?? "";
    if (!address) return setPhase({ state: "editing", error: t("needEmail"), field: "email" });
    if (!consent.current?.checked) return setPhase({ state: "editing", error: t("needConsent"), field: "consent" });
    setPhase({ state: "sending" });
    try {
      await graphql(SUBSCRIBE_MUTATION, { email: address, consent: true });
      setPhase({ state: "done", email: address });
    } catch (error) {
      const field = error instanceof GraphQLError && error.field === "consent" ? "consent" : "email";
      setPhase({
        state: "editing",
        error: error instanceof GraphQLError ? error.message : t("loadFailed"),
        field,
      });
    }
  };

  const error = phase.state === "editing" ? phase : null;
  return (
    <section class="page narrow">
      <h1 tabIndex={-1}>{t("subscribeTitle")}</h1>
      {phase.state === "done" ? (
        <div class="notice success" role="status" tabIndex={-1} ref={result}>
          <p>{t("subscribeDone", { email: phase.email })}</p>
        </div>
      ) : (
        <>
          <p>{t("subscribeIntro", { name: site.systemName })}</p>
          <form method="post" action="/subscribe" onSubmit={submit} noValidate>
            <div class="field">
              <label for="email">{t("emailLabel")}</label>
              <input
                id="email"
                name="email"
                type="email"
                autoComplete="email"
                required
                ref={email}
                aria-invalid={error?.field === "email" ? "true" : undefined}
                aria-describedby={error?.field === "email" ? "form-error" : undefined}
              />
            </div>
            <div class="field checkbox">
              <input
                id="consent"
                name="consent"
                type="checkbox"
                required
                ref={consent}
                aria-invalid={error?.field === "consent" ? "true" : undefined}
                aria-describedby={error?.field === "consent" ? "form-error" : undefined}
              />
              <label for="consent">{t("consent", { name: site.systemName })}</label>
            </div>
            {site.privacyUrl ? (
              <p>
                <a href={safeUrl(site.privacyUrl)}>{t("privacyLink")}</a>
              </p>
            ) : null}
            {error?.error ? (
              <p id="form-error" class="error" role="alert">
                {error.error}
              </p>
            ) : null}
            <button type="submit" disabled={phase.state === "sending"}>
              {phase.state === "sending" ? t("subscribeSending") : t("subscribeButton")}
            </button>
          </form>
        </>
      )}
    </section>
  );
}
