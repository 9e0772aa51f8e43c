//! `/badge.svg`: a shields-style badge with the current state.

use crate::domain::Headline;

/// The badge's message and colour for a headline.
fn appearance(headline: Headline) -> (&'static str, &'static str) {
    match headline {
        Headline::Down => ("major outage", "#b91c1c"),
        Headline::PartiallyUnavailable => ("partial outage", "#c2410c"),
        Headline::MightHaveIssues => ("possible issues", "#b45309"),
        Headline::KnownIssue => ("known issue", "#b45309"),
        Headline::Maintenance => ("maintenance", "#1d4ed8"),
        Headline::Recovering => ("recovering", "#0e7490"),
        // A notice does not make the product less available.
        Headline::Operational | Headline::UpWithNotice => ("operational", "#15803d"),
    }
}

pub fn render(headline: Headline) -> String {
    let (message, colour) = appearance(headline);
    let label = "status";
    // Verdana 11px averages about 7 px per character; good enough for a badge.
    let label_width = 10 + 7 * label.len();
    let message_width = 10 + 7 * message.len();
    let width = label_width + message_width;
    let label_x = label_width * 5;
    let message_x = label_width * 10 + message_width * 5;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{label}: {message}"><title>{label}: {message}</title><rect width="{label_width}" height="20" fill="#555"/><rect x="{label_width}" width="{message_width}" height="20" fill="{colour}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="110"><text x="{label_x}" y="140" transform="scale(.1)">{label}</text><text x="{message_x}" y="140" transform="scale(.1)">{message}</text></g></svg>"##
    )
}
