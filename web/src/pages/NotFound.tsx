import { useEffect } from "preact/hooks";
import type { PageProps } from "../props";
import { t } from "../i18n";

export function NotFound({ setTitle }: Pick<PageProps, "setTitle">) {
  useEffect(() => setTitle(t("notFoundTitle")), []);
  return (
    <section class="page">
      <h1 tabIndex={-1}>{t("notFoundTitle")}</h1>
      <p>{t("notFoundText")}</p>
      <p>
        <a href="/">{t("backToStatus")}</a>
      </p>
    </section>
  );
}
