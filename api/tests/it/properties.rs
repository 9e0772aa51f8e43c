//! Property tests of every parser of outside input: whatever arrives, each answers a
//! value or an error it can explain, never a panic; what it accepts keeps its promises.
//! The inputs are raw bytes, arbitrary JSON, and JSON built from the keys the real
//! formats use, so the generated bodies reach past the first type check.

use monostat::adapters::slack::verify::{sign, verify};
use monostat::adapters::{alertmanager, generic, opsgenie, pagerduty};
use monostat::domain::{Origin, SubscriberEmail, read_subscriber_csv};
use monostat::markdown::markdown_html;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys of the OpsGenie, Alertmanager/Grafana, PagerDuty and generic bodies.
const KEYS: &[&str] = &[
    "action",
    "alert",
    "alertId",
    "message",
    "description",
    "priority",
    "tags",
    "status",
    "alerts",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "fingerprint",
    "alertname",
    "summary",
    "event",
    "event_type",
    "data",
    "id",
    "title",
    "urgency",
    "occurred_at",
    "groupKey",
    "commonLabels",
    "version",
    "source",
    "createdAt",
    "updatedAt",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec![
            "firing",
            "resolved",
            "Create",
            "Close",
            "incident.triggered",
            "incident.resolved",
            "P1",
            "2026-12-07T10:00:00Z",
            "0001-01-01T00:00:00Z"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

/// JSON whose object keys come mostly from the formats' own vocabulary.
fn shaped_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => ".{0,12}"], inner),
                0..8,
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        shaped_json().prop_map(|value| serde_json::to_vec(&value).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn webhook_parsers_answer_or_explain_whatever_arrives(body in body()) {
        if let Ok(request) = opsgenie::parse(&body) {
            let _ = format!("{request:?}");
        }
        for source in [Origin::Alertmanager, Origin::Grafana] {
            if let Ok(events) = alertmanager::parse(source, &body) {
                let _ = format!("{events:?}");
            }
        }
        if let Err(message) = generic::parse(&body) {
            prop_assert!(!message.is_empty());
        }
        if let Err(message) = pagerduty::parse(&body) {
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn only_the_exact_signed_slack_body_passes(
        secret in prop::collection::vec(any::<u8>(), 1..64),
        body in prop::collection::vec(any::<u8>(), 0..256),
        other in prop::collection::vec(any::<u8>(), 0..256),
        timestamp in any::<i64>(),
        skew in -400_i64..400,
        junk in ".{0,80}",
    ) {
        let now = timestamp.saturating_add(skew);
        let ts = timestamp.to_string();
        let signature = sign(&secret, &ts, &body);
        let fresh = skew.abs() <= 300;
        prop_assert_eq!(verify(&secret, Some(&ts), Some(&signature), &body, now).is_ok(), fresh);
        if other != body {
            prop_assert!(verify(&secret, Some(&ts), Some(&signature), &other, now).is_err());
        }
        prop_assert!(verify(&secret, Some(&junk), Some(&junk), &body, now).is_err() || junk == signature);
        prop_assert!(verify(&secret, None, Some(&signature), &body, now).is_err());
    }

    #[test]
    fn a_subscriber_csv_yields_only_valid_distinct_addresses(csv in "(([a-zA-Z0-9.+_\"@ -]{0,30}|[^\n]{0,30})[,;]?.{0,10}\n){0,20}") {
        let read = read_subscriber_csv(&csv);
        let lines = csv.lines().count();
        for address in &read.addresses {
            prop_assert!(SubscriberEmail::parse(address.as_str()).is_ok());
        }
        let mut distinct = read.addresses.clone();
        distinct.sort();
        distinct.dedup();
        prop_assert_eq!(distinct.len(), read.addresses.len());
        for (line, _) in &read.invalid {
            prop_assert!(*line >= 1 && *line <= lines);
        }
    }

    #[test]
    fn markdown_never_carries_script(text in "(.|<script>|<img src=x onerror=alert(1)>|javascript:|\\[x\\]\\(javascript:alert\\(1\\)\\)|<svg onload=alert(1)>|&#106;avascript:){0,40}") {
        let html = markdown_html(&text).to_lowercase();
        prop_assert!(!html.contains("<script"), "{}", html);
        prop_assert!(!html.contains("<svg"), "{}", html);
        prop_assert!(!html.contains("<img"), "{}", html);
        prop_assert!(!html.contains("href=\"javascript:"), "{}", html);
        prop_assert!(!has_event_handler(&html), "{}", html);
    }
}

/// An `on…=` attribute inside a tag.
pub(crate) fn has_event_handler(html: &str) -> bool {
    let mut in_tag = false;
    let bytes = html.as_bytes();
    for (i, &byte) in bytes.iter().enumerate() {
        match byte {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            b'o' if in_tag
                && i > 0
                && bytes[i - 1].is_ascii_whitespace()
                && bytes.get(i + 1) == Some(&b'n') =>
            {
                let name: String = html[i..]
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                if html[i + name.len()..].trim_start().starts_with('=') {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}
