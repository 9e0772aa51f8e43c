//! The server process: start-up, health, readiness, metrics, restarts.

use std::os::unix::fs::PermissionsExt;

use monostat::app::{App, Role};

use crate::common::both_databases;

both_databases! {
    async fn the_server_starts_answers_health_checks_and_restarts(db: TestDb) {
        for _ in 0..2 {
            // The second round re-runs migrations and default settings on a used database.
            let app = App::init(db.app_config(&[])).await.unwrap();
            let stop = app.stop.clone();
            let services = app.services.clone();
            let (address, running) = app.start(Role::All).await.unwrap();
            let base = format!("http://{address}");
            let client = reqwest::Client::new();

            let health = client.get(format!("{base}/healthz")).send().await.unwrap();
            assert_eq!(health.status(), 200);
            let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
            assert_eq!(ready.status(), 200);
            let body: serde_json::Value = ready.json().await.unwrap();
            assert_eq!(body["database"], "reachable");
            services.settings.set_allow_subscriptions(true, &monostat::domain::Actor::System).await.unwrap();
            let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
            assert!(metrics.contains("monostat_jobs{state=\"pending\"}"), "{metrics}");
            assert!(metrics.contains("monostat_http_requests_total{route=\"/healthz\""), "{metrics}");
            assert!(metrics.contains("monostat_events_published_total"), "{metrics}");
            let missing = client.get(format!("{base}/no-such-page")).send().await.unwrap();
            assert_eq!(missing.status(), 404);

            stop.cancel();
            running.await.unwrap();
        }
        let key = std::fs::metadata(db.dir.path().join("secret.key")).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
}
