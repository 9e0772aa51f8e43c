//! What severities and statuses are called, in each language the site speaks. Mails,
//! Slack and the page name them; two spellings of one severity would read as two
//! different things, so every word for them is here. The page's frontend carries its
//! own copy (`web/src/i18n/`), which a test below keeps equal to this one.

use super::incident::{IncidentStatus, Severity};

/// A language of the site's texts (`site_settings.language`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    En,
    De,
}

impl Language {
    pub const ALL: &'static [Language] = &[Language::En, Language::De];

    /// The code stored in the settings and used by the frontend.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
        }
    }
}

/// The name of a severity, as the page, mails and Slack show it.
pub fn severity_label(severity: Severity, language: Language) -> &'static str {
    match (language, severity) {
        (Language::En, Severity::Maintenance) => "Maintenance",
        (Language::En, Severity::Notice) => "Notice",
        (Language::En, Severity::Bug) => "Known bug",
        (Language::En, Severity::Partial) => "Partial outage",
        (Language::En, Severity::Outage) => "Outage",
        (Language::De, Severity::Maintenance) => "Wartung",
        (Language::De, Severity::Notice) => "Hinweis",
        (Language::De, Severity::Bug) => "Bekannter Fehler",
        (Language::De, Severity::Partial) => "Teilausfall",
        (Language::De, Severity::Outage) => "Ausfall",
    }
}

/// The name of a status on the page, next to the incident.
pub fn status_label(status: IncidentStatus, language: Language) -> &'static str {
    match (language, status) {
        (Language::En, IncidentStatus::Planned) => "Planned",
        (Language::En, IncidentStatus::Suspected) => "Suspected",
        (Language::En, IncidentStatus::Dismissed) => "Dismissed",
        (Language::En, IncidentStatus::Confirmed) => "Confirmed",
        (Language::En, IncidentStatus::Watching) => "Monitoring",
        (Language::En, IncidentStatus::Resolved) => "Resolved",
        (Language::De, IncidentStatus::Planned) => "Geplant",
        (Language::De, IncidentStatus::Suspected) => "Vermutet",
        (Language::De, IncidentStatus::Dismissed) => "Verworfen",
        (Language::De, IncidentStatus::Confirmed) => "Bestätigt",
        (Language::De, IncidentStatus::Watching) => "Unter Beobachtung",
        (Language::De, IncidentStatus::Resolved) => "Behoben",
    }
}

/// A status as a notification mail announces it: says what the team is doing rather
/// than which state the incident is in ("Investigating", not "Confirmed"), because a
/// subscriber reads it once, without the page's timeline around it.
pub fn announced_status_label(status: IncidentStatus, language: Language) -> &'static str {
    match (language, status) {
        (Language::En, IncidentStatus::Planned) => "Scheduled",
        (Language::En, IncidentStatus::Suspected) => "Suspected",
        (Language::En, IncidentStatus::Dismissed) => "Dismissed",
        (Language::En, IncidentStatus::Confirmed) => "Investigating",
        (Language::En, IncidentStatus::Watching) => "Monitoring",
        (Language::En, IncidentStatus::Resolved) => "Resolved",
        (Language::De, IncidentStatus::Planned) => "Geplant",
        (Language::De, IncidentStatus::Suspected) => "Vermutet",
        (Language::De, IncidentStatus::Dismissed) => "Verworfen",
        (Language::De, IncidentStatus::Confirmed) => "Wird untersucht",
        (Language::De, IncidentStatus::Watching) => "Unter Beobachtung",
        (Language::De, IncidentStatus::Resolved) => "Behoben",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frontend_messages(language: Language) -> &'static str {
        match language {
            Language::En => include_str!("../../../web/src/i18n/en.ts"),
            Language::De => include_str!("../../../web/src/i18n/de.ts"),
        }
    }

    /// The page's frontend names severities and statuses itself; it must use these words.
    #[test]
    fn the_frontend_uses_the_same_labels() {
        for language in Language::ALL {
            let messages = frontend_messages(*language);
            for severity in Severity::ALL {
                let line = format!(
                    "\"severity.{}\": \"{}\"",
                    severity.as_str().to_uppercase(),
                    severity_label(*severity, *language)
                );
                assert!(messages.contains(&line), "{}: {line}", language.code());
            }
            for status in IncidentStatus::ALL {
                let line = format!(
                    "\"status.{}\": \"{}\"",
                    status.as_str().to_uppercase(),
                    status_label(*status, *language)
                );
                assert!(messages.contains(&line), "{}: {line}", language.code());
            }
        }
    }
}
