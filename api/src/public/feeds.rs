//! `/feed/rss` and `/feed/atom`: the 50 newest incidents the team stands behind (neither
//! suspected nor dismissed), built with the rust-syndication crates rather than by
//! hand so escaping and dates are right.

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, Utc};

use super::snapshot::{LIST_LENGTH, Snapshot};
use crate::domain::incident_path;
use crate::markdown::markdown_html;
use crate::services::PublicIncident;

fn entries(snapshot: &Snapshot) -> Vec<&PublicIncident> {
    let mut all: Vec<&PublicIncident> = snapshot
        .incidents
        .iter()
        .chain(&snapshot.maintenances)
        .collect();
    all.sort_by_key(|i| std::cmp::Reverse((i.incident.start, i.incident.id)));
    all.truncate(usize::try_from(LIST_LENGTH).unwrap_or(50));
    all
}

fn link(snapshot: &Snapshot, incident: &PublicIncident) -> String {
    format!(
        "{}{}",
        snapshot.site_url,
        incident_path(incident.incident.start, incident.incident.id)
    )
}

/// The newest timeline entry, which says where things stand, as sanitised HTML (feed
/// readers show descriptions as HTML).
fn latest_words(incident: &PublicIncident) -> String {
    let status = incident.incident.status;
    match incident.updates.first() {
        Some(update) => format!(
            "<p><strong>{status}</strong></p>{}",
            markdown_html(&update.message)
        ),
        None => format!("<p><strong>{status}</strong></p>"),
    }
}

fn fixed(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.fixed_offset()
}

pub fn rss(snapshot: &Snapshot) -> String {
    let title = format!("{} status", snapshot.view.site.system_name);
    let items = entries(snapshot)
        .into_iter()
        .map(|incident| rss::Item {
            title: Some(incident.incident.title.clone()),
            link: Some(link(snapshot, incident)),
            description: Some(latest_words(incident)),
            guid: Some(rss::Guid {
                value: link(snapshot, incident),
                permalink: true,
            }),
            pub_date: Some(incident.incident.start.to_rfc2822()),
            ..rss::Item::default()
        })
        .collect();
    rss::Channel {
        title: title.clone(),
        link: snapshot.site_url.clone(),
        description: format!(
            "Incidents and maintenance of {}",
            snapshot.view.site.system_name
        ),
        last_build_date: Some(snapshot.built_at.to_rfc2822()),
        items,
        ..rss::Channel::default()
    }
    .to_string()
}

pub fn atom(snapshot: &Snapshot) -> String {
    let entries = entries(snapshot)
        .into_iter()
        .map(|incident| atom::Entry {
            id: link(snapshot, incident),
            title: atom::Text::plain(incident.incident.title.clone()),
            updated: fixed(incident.incident.updated),
            published: Some(fixed(incident.incident.start)),
            links: vec![atom::Link {
                href: link(snapshot, incident),
                rel: "alternate".into(),
                ..atom::Link::default()
            }],
            summary: Some(atom::Text::html(latest_words(incident))),
            ..atom::Entry::default()
        })
        .collect();
    atom::Feed {
        id: format!("{}/feed/atom", snapshot.site_url),
        title: atom::Text::plain(format!("{} status", snapshot.view.site.system_name)),
        updated: fixed(snapshot.built_at),
        links: vec![
            atom::Link {
                href: snapshot.site_url.clone(),
                rel: "alternate".into(),
                ..atom::Link::default()
            },
            atom::Link {
                href: format!("{}/feed/atom", snapshot.site_url),
                rel: "self".into(),
                ..atom::Link::default()
            },
        ],
        entries,
        ..atom::Feed::default()
    }
    .to_string()
}
