//! Alertmanager, Grafana, PagerDuty and the generic hook over HTTP with the shared
//! fixtures: the same semantics as OpsGenie, each with its own secret.

use monostat::domain::Origin;
use monostat::store::{alert, incident};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::Value;

use crate::common::{TestApp, TestDb, both_databases, fixture};

async fn hook(app: &TestApp, source: Origin) -> String {
    let secret = app
        .services
        .settings
        .alert_source_secret(source)
        .await
        .unwrap();
    app.url(&format!(
        "/integrations/{}/hook/{}",
        source.as_str(),
        secret.expose()
    ))
}

async fn post(app: &TestApp, url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn statuses(db: &TestDb) -> Vec<String> {
    incident::Entity::find()
        .order_by_asc(incident::Column::Id)
        .all(&db.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.status.to_string())
        .collect()
}

both_databases! {
    async fn alertmanager_and_grafana_groups_open_and_close_alerts(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let url = hook(&app, Origin::Alertmanager).await;
        let (status, body) = post(&app, &app.url("/integrations/alertmanager/hook/wrong"), fixture("alertmanager/firing.json"), &[]).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
        let (status, body) = post(&app, &url, b"{\"status\":\"firing\"}".to_vec(), &[]).await;
        assert_eq!(status, 400, "{body}");

        let (status, body) = post(&app, &url, fixture("alertmanager/firing.json"), &[]).await;
        assert_eq!(status, 200, "{body}");
        // The group repeats every repeat_interval: nothing new.
        post(&app, &url, fixture("alertmanager/firing-v0.34.json"), &[]).await;
        post(&app, &url, fixture("alertmanager/firing.json"), &[]).await;
        assert_eq!(statuses(&db).await, vec!["suspected"]);
        post(&app, &url, fixture("alertmanager/firing-one-resolved.json"), &[]).await;
        assert_eq!(statuses(&db).await, vec!["suspected"], "one alert still fires");
        let (status, _) = post(&app, &url, fixture("alertmanager/resolved.json"), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(statuses(&db).await, vec!["dismissed"], "all resolved: a false alarm by itself");

        // Grafana has its own secret; the Alertmanager one does not open its hook.
        let grafana = hook(&app, Origin::Grafana).await;
        let wrong = url.replace("/alertmanager/", "/grafana/");
        assert_eq!(post(&app, &wrong, fixture("grafana/firing.json"), &[]).await.0, 403);
        assert_eq!(post(&app, &grafana, fixture("grafana/firing.json"), &[]).await.0, 200);
        assert_eq!(statuses(&db).await, vec!["dismissed", "suspected"]);
        let alerts = alert::Entity::find().order_by_desc(alert::Column::Id).all(&db.conn).await.unwrap();
        assert_eq!((alerts[0].source.as_str(), alerts[0].message.as_str()), ("grafana", "More than 5% of requests to app fail"));
        post(&app, &grafana, fixture("grafana/resolved.json"), &[]).await;
        assert_eq!(statuses(&db).await, vec!["dismissed", "dismissed"]);
        app.stop().await;
    }

    async fn pagerduty_incidents_become_alerts_and_signatures_are_checked(db: TestDb) {
        let secret = "pd-fake-webhook-secret-0123456789abcdefABCDEF0123456789";
        let app = TestApp::start(db.app_config(&[("MONOSTAT_PAGERDUTY_SIGNING_SECRET", secret)])).await;
        let url = hook(&app, Origin::Pagerduty).await;
        let signed = |name: &'static str, signature: &'static str| {
            let (app, url) = (&app, url.clone());
            async move { post(app, &url, fixture(&format!("pagerduty/{name}")), &[("x-pagerduty-signature", signature), ("x-webhook-id", "w1")]).await }
        };
        let unsigned = post(&app, &url, fixture("pagerduty/incident.triggered.json"), &[]).await;
        assert_eq!(unsigned.0, 403);
        let (status, body) = signed("incident.triggered.json", "v1=dc6028408753f06397fb43bb6129384c04356628aab7e2111fb1362f6f263465,v1=f67b7a564d3b9da21ea1f3062604c42bdd3ed51bbfb7db45ca50f17cd08d469b").await;
        assert_eq!(status, 200, "{body}");
        // At least once: the same delivery again changes nothing.
        signed("incident.triggered.json", "v1=f67b7a564d3b9da21ea1f3062604c42bdd3ed51bbfb7db45ca50f17cd08d469b").await;
        assert_eq!(statuses(&db).await, vec!["suspected"]);
        assert_eq!(signed("incident.acknowledged.json", "v1=4436634e0f16e049f29f8c1c84a67b1a9a90bdc5512b86ed0fa696868195935c").await.0, 200);
        assert_eq!(signed("incident.annotated.json", "v1=3985fdabbcd3c8c14ef168871899d0695c76e5d1ad81a864c34f7a9b5eeeb601").await.0, 200);
        assert_eq!(signed("incident.resolved.json", "v1=303a093595b48ef47cd971132d218e6669c3aa29d465b193bba4146c7908cbdf").await.0, 200);
        assert_eq!(statuses(&db).await, vec!["dismissed"]);
        app.stop().await;
    }

    async fn the_generic_hook_takes_plain_json(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let url = hook(&app, Origin::Generic).await;
        let (status, body) = post(&app, &url, br#"{"id":"checkout-probe","message":"Checkout fails"}"#.to_vec(), &[]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["incident"].is_i64());
        let (status, body) = post(&app, &url, br#"{"id":"checkout-probe"}"#.to_vec(), &[]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("alert checkout-probe is firing without a \"message\"")));
        post(&app, &url, br#"[{"id":"checkout-probe","status":"resolved"}]"#.to_vec(), &[]).await;
        assert_eq!(statuses(&db).await, vec!["dismissed"]);
        app.stop().await;
    }
}
