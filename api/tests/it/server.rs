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

both_databases! {
    async fn metrics_keep_one_series_for_invented_methods_and_can_require_a_token(db: TestDb) {
        let app = App::init(db.app_config(&[("MONOSTAT_METRICS_TOKEN", "scrape-me")]))
            .await
            .unwrap();
        let stop = app.stop.clone();
        let (address, running) = app.start(Role::All).await.unwrap();
        let base = format!("http://{address}");
        let client = reqwest::Client::new();

        for n in 0..30 {
            let method = reqwest::Method::from_bytes(format!("INVENTED{n}").as_bytes()).unwrap();
            let answer = client.request(method, format!("{base}/healthz")).send().await.unwrap();
            assert!(answer.status().is_client_error(), "{}", answer.status());
        }

        let anonymous = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert!(anonymous.text().await.unwrap().contains("MONOSTAT_METRICS_TOKEN"));
        let wrong = client.get(format!("{base}/metrics")).bearer_auth("guess").send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        let scrape = client.get(format!("{base}/metrics")).bearer_auth("scrape-me").send().await.unwrap();
        assert_eq!(scrape.status(), 200);
        let metrics = scrape.text().await.unwrap();
        assert!(!metrics.contains("INVENTED"), "{metrics}");
        assert!(metrics.contains(r#"method="OTHER""#), "{metrics}");

        stop.cancel();
        running.await.unwrap();
    }
}
