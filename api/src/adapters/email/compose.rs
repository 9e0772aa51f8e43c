//! The mails monostat sends, as multipart text + HTML messages.
//!
//! Every mail is built from one [`Content`] rendered twice, so the text and HTML parts
//! always say the same. The HTML uses a `<style>` block that `css-inline` moves into
//! `style` attributes (most mail clients drop `<style>`), and has no images, so it
//! reads the same with images blocked.
//!
//! Markdown from incident summaries and updates goes into the text part as written
//! (Markdown is meant to read well as plain text) and into the HTML part rendered and
//! sanitised. Every other text from an incident is escaped.

use std::fmt::Write as _;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::config::Config;
use crate::domain::{
    IncidentStatus, Language, Severity, announced_status_label, incident_path, severity_label,
};
use crate::markdown::markdown_html;
use crate::services::FanOut;
use crate::services::follow_up::NotificationKindPayload;
use crate::services::views::{Branding, NotificationSettings};

use super::transport::site_domain;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Declares a header lettre has no type for, holding a plain ASCII value.
macro_rules! plain_header {
    ($name:ident, $spelling:literal) => {
        #[derive(Clone, Debug)]
        pub struct $name(pub String);

        impl Header for $name {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($spelling)
            }

            fn parse(value: &str) -> Result<Self, BoxError> {
                Ok(Self(value.to_owned()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

plain_header!(ListUnsubscribe, "List-Unsubscribe");
plain_header!(ListUnsubscribePost, "List-Unsubscribe-Post");
// RFC 3834: tells vacation responders not to answer status mails.
plain_header!(AutoSubmitted, "Auto-Submitted");

/// Who sends, and the site's look; read once per job.
#[derive(Clone, Debug)]
pub struct Sender {
    pub system_name: String,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub site_url: String,
    pub domain: String,
    colors: Colors,
}

#[derive(Clone, Debug)]
struct Colors {
    primary: String,
    link: String,
    text: String,
    secondary: String,
}

impl Sender {
    pub fn new(
        config: &Config,
        site: &Branding,
        notifications: &NotificationSettings,
    ) -> Result<Self, String> {
        let address = config
            .mail
            .from
            .parse::<Address>()
            .or_else(|_| config.mail.from.parse::<Mailbox>().map(|m| m.email))
            .map_err(|error| format!("MONOSTAT_MAIL_FROM is not an address: {error}"))?;
        let system_name = one_line(&site.system_name);
        let reply_to = notifications
            .reply_to
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .and_then(|value| value.parse::<Mailbox>().ok());
        let site_url = config.site_url.trim_end_matches('/').to_owned();
        Ok(Self {
            from: Mailbox::new(Some(format!("{system_name} System Status")), address),
            reply_to,
            domain: site_domain(&site_url),
            site_url,
            system_name,
            colors: Colors {
                primary: css_color(&site.color_primary, "#1f2937"),
                link: css_color(&site.color_link, "#1d4ed8"),
                text: css_color(&site.color_text_primary, "#111827"),
                secondary: css_color(&site.color_text_secondary, "#4b5563"),
            },
        })
    }

    fn unsubscribe_url(&self, token: &str) -> String {
        format!("{}/unsubscribe/{token}", self.site_url)
    }

    fn builder(
        &self,
        to: &str,
        subject: &str,
        message_id: &str,
    ) -> Result<lettre::message::MessageBuilder, String> {
        let to: Mailbox = to
            .parse::<Address>()
            .map(|address| Mailbox::new(None, address))
            .map_err(|error| format!("not an address: {error}"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(subject))
            .message_id(Some(format!("<{message_id}@{}>", self.domain)))
            .date_now()
            .header(AutoSubmitted("auto-generated".into()));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        Ok(builder)
    }

    fn with_unsubscribe(
        &self,
        builder: lettre::message::MessageBuilder,
        token: &str,
    ) -> lettre::message::MessageBuilder {
        builder
            .header(ListUnsubscribe(format!(
                "<{}>",
                self.unsubscribe_url(token)
            )))
            .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()))
    }
}

/// What a mail says, independent of its format.
struct Content {
    heading: String,
    intro: String,
    facts: Vec<(&'static str, String)>,
    /// Markdown blocks, each with an optional caption.
    sections: Vec<(Option<&'static str>, String)>,
    action: Option<(String, String)>,
    footer: Vec<String>,
    /// Shown as a link at the very end (unsubscribe), label and URL.
    footer_link: Option<(String, String)>,
}

/// Stands in for the subscriber's token in a [`NotificationTemplate`]; plain letters,
/// so neither escaping nor CSS inlining changes it.
const TOKEN_PLACEHOLDER: &str = "MONOSTATSUBSCRIBERTOKENPLACEHOLDER";

/// A notification rendered once per fan-out: only the recipient, the unsubscribe token
/// and the Message-ID differ between subscribers, and CSS inlining (an HTML parse) is
/// far too slow to repeat ten thousand times.
pub struct NotificationTemplate {
    subject: String,
    text: String,
    html: String,
    message_id_prefix: String,
}

impl NotificationTemplate {
    pub fn new(
        sender: &Sender,
        fanout: &FanOut,
        kind: NotificationKindPayload,
    ) -> Result<Self, String> {
        let token = TOKEN_PLACEHOLDER;
        let incident = &fanout.incident;
        let maintenance = incident.severity == Severity::Maintenance;
        let status = fanout.status;
        let (prefix, intro) = match (kind, maintenance, status) {
            (NotificationKindPayload::MaintenanceScheduled, _, _) => (
                "Maintenance scheduled",
                format!(
                    "Maintenance of {} is scheduled to start {}.",
                    sender.system_name,
                    incident.start.format("%Y-%m-%d %H:%M UTC")
                ),
            ),
            (_, true, IncidentStatus::Resolved) => (
                "Maintenance completed",
                "The maintenance is complete.".to_owned(),
            ),
            (_, true, _) => (
                "Maintenance started",
                "The maintenance has started.".to_owned(),
            ),
            (NotificationKindPayload::Reopened, false, _) => (
                "Incident reopened",
                format!(
                    "The problem with {} is back. We are working on it again.",
                    sender.system_name
                ),
            ),
            (NotificationKindPayload::NewIncident, false, _) => (
                "New incident",
                format!(
                    "We are aware of a problem with {} and are working on it.",
                    sender.system_name
                ),
            ),
            (_, false, IncidentStatus::Watching) => (
                "Update",
                "A fix is in place and we are monitoring the results.".to_owned(),
            ),
            (_, false, IncidentStatus::Resolved) => {
                ("Update", "This incident has been resolved.".to_owned())
            }
            (_, false, _) => ("Update", "We are working on this problem.".to_owned()),
        };
        let subject = format!(
            "[{}] {prefix}: {} – {} ({})",
            sender.system_name,
            incident.title,
            announced_status_label(status, Language::En),
            severity_label(incident.severity, Language::En)
        );
        let link = format!(
            "{}{}",
            sender.site_url,
            incident_path(incident.start, incident.id)
        );
        let mut sections = Vec::new();
        if let Some(text) = &fanout.update_text {
            sections.push((Some("Update"), text.clone()));
        }
        if let Some(summary) = incident.summary.as_deref().filter(|s| !s.trim().is_empty()) {
            sections.push((Some("Summary"), summary.to_owned()));
        }
        let mut facts = vec![
            (
                "Status",
                announced_status_label(status, Language::En).to_owned(),
            ),
            (
                "Severity",
                severity_label(incident.severity, Language::En).to_owned(),
            ),
            (
                if maintenance { "Starts" } else { "Started" },
                incident.start.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
        ];
        if let Some(end) = incident.end.filter(|_| status == IncidentStatus::Resolved) {
            facts.push(("Ended", end.format("%Y-%m-%d %H:%M UTC").to_string()));
        }
        let content = Content {
            heading: one_line(&incident.title),
            intro,
            facts,
            sections,
            action: Some(("View the incident".to_owned(), link)),
            footer: vec![format!(
                "You receive this because you subscribed to status updates of {}.",
                sender.system_name
            )],
            footer_link: Some(("Unsubscribe".to_owned(), sender.unsubscribe_url(token))),
        };
        Ok(Self {
            subject,
            text: render_text(&content),
            html: inline_css(&render_html(sender, &content))?,
            message_id_prefix: format!("notify.{}.{}", incident.id, status.as_str()),
        })
    }

    /// The mail for one subscriber. The Message-ID is derived from the delivery, so if
    /// a crash makes us send a delivery twice, both copies carry the same id and mail
    /// stores that de-duplicate by Message-ID show it once.
    pub fn message(
        &self,
        sender: &Sender,
        email: &str,
        token: &str,
        delivery_id: i64,
    ) -> Result<Message, String> {
        let message_id = format!("{}.{delivery_id}", self.message_id_prefix);
        let builder =
            sender.with_unsubscribe(sender.builder(email, &self.subject, &message_id)?, token);
        assemble(
            builder,
            self.text.replace(TOKEN_PLACEHOLDER, token),
            self.html.replace(TOKEN_PLACEHOLDER, token),
        )
    }
}

/// "Please confirm your subscription", with the link to the confirmation page.
pub fn opt_in(sender: &Sender, email: &str, token: &str) -> Result<Message, String> {
    let subject = format!("[{}] Please confirm your subscription", sender.system_name);
    let content = Content {
        heading: "Confirm your subscription".to_owned(),
        intro: format!(
            "Someone, hopefully you, asked to receive status updates of {} at this address. \
             Open the link below and press the button to confirm.",
            sender.system_name
        ),
        facts: Vec::new(),
        sections: Vec::new(),
        action: Some((
            "Confirm my subscription".to_owned(),
            format!("{}/subscribe/confirm/{token}", sender.site_url),
        )),
        footer: vec![
            "If you did not ask for this, ignore this mail: you will not hear from us again."
                .to_owned(),
        ],
        footer_link: None,
    };
    let id = format!("subscription.{}", crate::secret::random_token(96));
    finish(sender.builder(email, &subject, &id)?, sender, &content)
}

/// Someone asked to subscribe an address that already is.
pub fn already_subscribed(sender: &Sender, email: &str, token: &str) -> Result<Message, String> {
    let subject = format!("[{}] You are already subscribed", sender.system_name);
    let content = Content {
        heading: "You are already subscribed".to_owned(),
        intro: format!(
            "Someone asked to subscribe this address to status updates of {}, but it already \
             receives them. Nothing has changed.",
            sender.system_name
        ),
        facts: Vec::new(),
        sections: Vec::new(),
        action: None,
        footer: Vec::new(),
        footer_link: Some(("Unsubscribe".to_owned(), sender.unsubscribe_url(token))),
    };
    let id = format!("subscription.{}", crate::secret::random_token(96));
    let builder = sender.with_unsubscribe(sender.builder(email, &subject, &id)?, token);
    finish(builder, sender, &content)
}

fn finish(
    builder: lettre::message::MessageBuilder,
    sender: &Sender,
    content: &Content,
) -> Result<Message, String> {
    let html = inline_css(&render_html(sender, content))?;
    assemble(builder, render_text(content), html)
}

fn inline_css(html: &str) -> Result<String, String> {
    css_inline::inline(html).map_err(|error| format!("cannot inline the mail's CSS: {error}"))
}

fn assemble(
    builder: lettre::message::MessageBuilder,
    text: String,
    html: String,
) -> Result<Message, String> {
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|error| format!("cannot build the mail: {error}"))
}

fn render_text(content: &Content) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}\n\n{}\n", content.heading, content.intro);
    for (label, value) in &content.facts {
        let _ = writeln!(text, "{label}: {value}");
    }
    if !content.facts.is_empty() {
        text.push('\n');
    }
    for (caption, markdown) in &content.sections {
        if let Some(caption) = caption {
            let _ = writeln!(text, "{caption}:");
        }
        let _ = writeln!(text, "{}\n", markdown.trim());
    }
    if let Some((label, url)) = &content.action {
        let _ = writeln!(text, "{label}: {url}\n");
    }
    text.push_str("-- \n");
    for line in &content.footer {
        let _ = writeln!(text, "{line}");
    }
    if let Some((label, url)) = &content.footer_link {
        let _ = writeln!(text, "{label}: {url}");
    }
    text
}

fn render_html(sender: &Sender, content: &Content) -> String {
    let c = &sender.colors;
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title><style>\
         body {{ margin: 0; padding: 0; background: #f3f4f6; color: {text}; \
         font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; }}\
         .wrap {{ max-width: 600px; margin: 0 auto; padding: 24px; background: #ffffff; }}\
         h1 {{ font-size: 20px; margin: 0 0 12px 0; color: {primary}; }}\
         h2 {{ font-size: 15px; margin: 16px 0 4px 0; }}\
         p {{ font-size: 15px; line-height: 1.5; margin: 0 0 12px 0; }}\
         th {{ text-align: left; font-weight: 600; padding: 2px 12px 2px 0; font-size: 14px; }}\
         td {{ padding: 2px 0; font-size: 14px; }}\
         a {{ color: {link}; }}\
         a.button {{ display: inline-block; padding: 10px 16px; background: {primary}; \
         color: #ffffff; text-decoration: none; border-radius: 4px; font-weight: 600; }}\
         .footer {{ font-size: 12px; color: {secondary}; margin-top: 24px; }}\
         </style></head><body><div class=\"wrap\"><h1>{title}</h1><p>{intro}</p>",
        title = escape(&content.heading),
        intro = escape(&content.intro),
        text = c.text,
        primary = c.primary,
        link = c.link,
        secondary = c.secondary,
    );
    if !content.facts.is_empty() {
        html.push_str("<table role=\"presentation\">");
        for (label, value) in &content.facts {
            let _ = write!(
                html,
                "<tr><th scope=\"row\">{label}</th><td>{}</td></tr>",
                escape(value)
            );
        }
        html.push_str("</table>");
    }
    for (caption, markdown) in &content.sections {
        if let Some(caption) = caption {
            let _ = write!(html, "<h2>{caption}</h2>");
        }
        html.push_str(&markdown_html(markdown));
    }
    if let Some((label, url)) = &content.action {
        let _ = write!(
            html,
            "<p><a class=\"button\" href=\"{}\">{}</a></p>",
            escape(url),
            escape(label)
        );
    }
    html.push_str("<div class=\"footer\">");
    for line in &content.footer {
        let _ = write!(html, "<p>{}</p>", escape(line));
    }
    if let Some((label, url)) = &content.footer_link {
        let _ = write!(
            html,
            "<p><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(label)
        );
    }
    html.push_str("</div></div></body></html>\n");
    html
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Header values and headings must be one line.
fn one_line(text: &str) -> String {
    text.split(char::is_control)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned()
}

/// Site colours go into CSS; only plain hex colours are let through.
fn css_color(value: &str, fallback: &str) -> String {
    let value = value.trim();
    let hex = value.strip_prefix('#').unwrap_or_default();
    if matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        value.to_owned()
    } else {
        fallback.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_colours_reach_the_css() {
        assert_eq!(css_color("#abc", "#000"), "#abc");
        assert_eq!(css_color("red;}</style>", "#000"), "#000");
    }

    #[test]
    fn header_text_is_one_line() {
        assert_eq!(one_line("a\r\nBcc: x"), "a Bcc: x");
    }
}
