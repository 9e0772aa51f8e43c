import { useEffect, useState } from "preact/hooks";
import { gql, gqlUpload } from "../api";
import {
  RemoveLogoMutationDocument,
  SiteSettingsQueryDocument,
  UpdateSiteSettingsMutationDocument,
  UploadLogoMutationDocument,
  type SiteSettingsQuery,
} from "../graphql/generated";
import { contrast, textOn } from "../../theme";
import { color, email, Field, messageOf, required, Select, Status, url, useForm, useLoad } from "../ui";

const THEME_KEYS = ["primary", "link", "success", "warning", "danger", "info", "textPrimary", "textSecondary"] as const;
type ThemeKey = (typeof THEME_KEYS)[number];
const THEME_LABEL: Record<ThemeKey, string> = {
  primary: "Primary (header)",
  link: "Links",
  success: "Operational",
  warning: "Warning",
  danger: "Outage",
  info: "Information",
  textPrimary: "Text",
  textSecondary: "Secondary text",
};

type Site = SiteSettingsQuery["status"]["site"];

/** The service names fields in words (`time zone: use an IANA name …`). */
const SERVER_FIELDS: Record<string, string> = {
  "system name": "systemName",
  "support e-mail": "supportEmail",
  "legal notice URL": "legalNoticeUrl",
  "privacy URL": "privacyUrl",
  "time zone": "timeZone",
  language: "defaultLanguage",
  "primary colour": "primary",
  "link colour": "link",
  "success colour": "success",
  "warning colour": "warning",
  "danger colour": "danger",
  "info colour": "info",
  "primary text colour": "textPrimary",
  "secondary text colour": "textSecondary",
};

/** WCAG AA asks 4.5:1 for body text; below that the preview warns. */
const MIN_CONTRAST = 4.5;

export function SiteSettings() {
  const { data, error, reload } = useLoad(() => gql(SiteSettingsQueryDocument).then((d) => d.status.site));
  return (
    <>
      <h1 tabIndex={-1}>Site settings</h1>
      <Status message={error} kind="error" />
      {data && <SiteForm site={data} />}
      {data && <Logo url={data.logoUrl} onChanged={reload} />}
    </>
  );
}

function SiteForm(props: { site: Site }) {
  const { site } = props;
  const validators: Record<string, (v: string) => string | null> = {
    systemName: required("The name"),
    supportEmail: email,
    legalNoticeUrl: url,
    privacyUrl: url,
    timeZone: required("The time zone"),
  };
  for (const key of THEME_KEYS) validators[key] = color;
  const form = useForm(
    {
      systemName: site.systemName,
      supportEmail: site.supportEmail ?? "",
      supportPhone: site.supportPhone ?? "",
      legalNoticeUrl: site.legalNoticeUrl ?? "",
      privacyUrl: site.privacyUrl ?? "",
      timeZone: site.timeZone,
      defaultLanguage: site.defaultLanguage,
      ...site.theme,
    },
    validators,
  );
  const [saved, setSaved] = useState<string | null>(null);
  const v = form.values;
  const valid = (c: string) => /^#[0-9a-fA-F]{6}$/.test(c);
  const theme = Object.fromEntries(THEME_KEYS.map((k) => [k, valid(v[k]) ? v[k] : site.theme[k]])) as Record<ThemeKey, string>;
  const warnings = [
    ["Text on white", contrast(theme.textPrimary, "#ffffff")],
    ["Secondary text on white", contrast(theme.textSecondary, "#ffffff")],
    ["Links on white", contrast(theme.link, "#ffffff")],
  ].filter(([, ratio]) => (ratio as number) < MIN_CONTRAST) as [string, number][];

  return (
    <form
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        setSaved(null);
        form.submit(async (values) => {
          await gql(UpdateSiteSettingsMutationDocument, {
            input: {
              systemName: values.systemName,
              supportEmail: values.supportEmail,
              supportPhone: values.supportPhone,
              legalNoticeUrl: values.legalNoticeUrl,
              privacyUrl: values.privacyUrl,
              timeZone: values.timeZone,
              defaultLanguage: values.defaultLanguage,
              theme: Object.fromEntries(THEME_KEYS.map((k) => [k, values[k]])),
            },
          });
          setSaved("Saved. The status page shows the change now.");
        }, SERVER_FIELDS);
      }}
    >
      <h2>Name and contacts</h2>
      <Field label="Product name" hint="As in “{name} is down”." value={v.systemName} onInput={(x) => form.set("systemName", x)} error={form.errorOf("systemName")} />
      <div class="row">
        <Field label="Support e-mail" type="email" value={v.supportEmail} onInput={(x) => form.set("supportEmail", x)} error={form.errorOf("supportEmail")} />
        <Field label="Support phone" type="tel" value={v.supportPhone} onInput={(x) => form.set("supportPhone", x)} error={form.errorOf("supportPhone")} />
      </div>
      <div class="row">
        <Field label="Legal notice URL" type="url" value={v.legalNoticeUrl} onInput={(x) => form.set("legalNoticeUrl", x)} error={form.errorOf("legalNoticeUrl")} />
        <Field label="Privacy policy URL" type="url" value={v.privacyUrl} onInput={(x) => form.set("privacyUrl", x)} error={form.errorOf("privacyUrl")} />
      </div>
      <div class="row">
        <Field label="Time zone" hint="IANA name, e.g. Europe/Berlin; the history calendar's days follow it." value={v.timeZone} onInput={(x) => form.set("timeZone", x)} error={form.errorOf("timeZone")} />
        <Select
          label="Default language"
          value={v.defaultLanguage}
          options={[
            ["en", "English"],
            ["de", "Deutsch"],
          ]}
          onChange={(x) => form.set("defaultLanguage", x)}
          error={form.errorOf("defaultLanguage")}
        />
      </div>
      <h2>Colours</h2>
      <div class="colours">
        {THEME_KEYS.map((key) => (
          <div class="colour">
            <Field label={THEME_LABEL[key]} value={v[key]} onInput={(x) => form.set(key, x)} error={form.errorOf(key)} />
            <input type="color" aria-label={`${THEME_LABEL[key]}: pick`} value={theme[key]} onInput={(e) => form.set(key, (e.currentTarget as HTMLInputElement).value)} />
          </div>
        ))}
      </div>
      <Preview theme={theme} name={v.systemName} />
      {warnings.length > 0 && (
        <div class="warning" role="status" id="contrast-warning">
          <strong>Hard to read:</strong>{" "}
          {warnings.map(([what, ratio]) => `${what} has a contrast of ${ratio.toFixed(1)}:1`).join("; ")} — at least {MIN_CONTRAST}:1 is needed
          (WCAG AA).
        </div>
      )}
      <Status message={form.formError} kind="error" />
      <Status message={saved} />
      <button type="submit" class="primary" disabled={form.busy}>
        Save site settings
      </button>
    </form>
  );
}

function Preview(props: { theme: Record<ThemeKey, string>; name: string }) {
  const { theme } = props;
  const chip = (bg: string, label: string) => (
    <span class="chip" style={{ background: bg, color: textOn(bg) }}>
      {label}
    </span>
  );
  return (
    <figure class="preview" aria-label="Preview of the status page colours">
      <div class="preview-head" style={{ background: theme.primary, color: textOn(theme.primary) }}>
        {props.name || "Your product"}
      </div>
      <div class="preview-body">
        <p style={{ color: theme.textPrimary }}>
          {props.name || "Your product"} is up and running. <span style={{ color: theme.link, textDecoration: "underline" }}>A link</span>
        </p>
        <p style={{ color: theme.textSecondary }}>Secondary text: updated 2 minutes ago.</p>
        <p>
          {chip(theme.success, "Operational")} {chip(theme.warning, "Warning")} {chip(theme.danger, "Outage")} {chip(theme.info, "Information")}
        </p>
      </div>
      <figcaption class="visually-hidden">Live preview</figcaption>
    </figure>
  );
}

function Logo(props: { url: string | null; onChanged: () => void }) {
  // The site query follows the change a moment later (via the snapshot); the upload's
  // answer is the new URL at once.
  const [current, setCurrent] = useState(props.url);
  useEffect(() => setCurrent(props.url), [props.url]);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [message, setMessage] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  useEffect(() => {
    if (!file) return setPreview(null);
    const objectUrl = URL.createObjectURL(file);
    setPreview(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [file]);
  const tooBig = file && file.size > 512 * 1024;
  return (
    <section aria-labelledby="logo-h">
      <h2 id="logo-h">Logo</h2>
      {current ? <img class="logo-current" src={current} alt="Current logo" /> : <p>No logo yet; the page shows the product name.</p>}
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          const form = event.currentTarget as HTMLFormElement;
          if (!file || tooBig) return;
          try {
            const data = await gqlUpload(UploadLogoMutationDocument, file);
            setCurrent(data.uploadLogo);
            setMessage({ text: "Logo uploaded.", kind: "ok" });
            setFile(null);
            form.reset();
            props.onChanged();
          } catch (e) {
            setMessage({ text: `Not uploaded: ${messageOf(e)}`, kind: "error" });
          }
        }}
      >
        <div class="field">
          <label for="logo-file">New logo (PNG, JPEG, GIF, WebP or SVG, up to 512 KiB)</label>
          <input id="logo-file" type="file" accept="image/png,image/jpeg,image/gif,image/webp,image/svg+xml" onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)} />
          {tooBig && <p class="error">The file is larger than 512 KiB.</p>}
        </div>
        {preview && <img class="logo-current" src={preview} alt="The chosen logo" />}
        <div class="buttons">
          <button type="submit" class="primary" disabled={!file || !!tooBig}>
            Upload logo
          </button>
          {current && (
            <button
              type="button"
              onClick={async () => {
                try {
                  await gql(RemoveLogoMutationDocument);
                  setCurrent(null);
                  setMessage({ text: "Logo removed.", kind: "ok" });
                  props.onChanged();
                } catch (e) {
                  setMessage({ text: messageOf(e), kind: "error" });
                }
              }}
            >
              Remove logo
            </button>
          )}
        </div>
        <Status message={message?.text ?? null} kind={message?.kind} />
      </form>
    </section>
  );
}
