//! A stolen console session must not be enough to take the console over: changes that
//! would keep or widen an intruder's hold need the password given within the last five
//! minutes; the owner changing a password or second factor ends every other session;
//! and a refresh token copied and used after its owner used it ends the whole sign-in.

use chrono::{TimeDelta, Utc};
use monostat::domain::Actor;
use monostat::services::StepUp;
use monostat::store::{audit_entry, refresh_token};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::common::{TestApp, both_databases};
use crate::graphql::{PASSWORD, code, gql};
use crate::second_factors::{SITE, enrol_totp};

/// A sign-in of alice: its access token and its refresh cookie (`name=value`).
async fn sign_in(app: &TestApp, password: &str) -> (String, String) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({
            "query": "mutation($p: String!) { login(username: \"alice\", password: $p) { accessToken } }",
            "variables": { "p": password },
        }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let answer: Value = response.json().await.unwrap();
    let token = answer["data"]["login"]["accessToken"].as_str().unwrap();
    (token.to_owned(), cookie)
}

/// Trades the cookie: the answer and the next cookie.
async fn refresh(app: &TestApp, cookie: &str) -> (Value, Option<String>) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", cookie)
        .json(&json!({ "query": "mutation { refresh { accessToken } }" }))
        .send()
        .await
        .unwrap();
    let next = response
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    (response.json().await.unwrap(), next)
}

fn token_of(answer: &Value) -> String {
    answer["data"]["refresh"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

async fn alice(app: &TestApp) -> i64 {
    app.services
        .users
        .create("alice", PASSWORD, &Actor::System, &StepUp::command_line())
        .await
        .unwrap()
        .id
}

const ME: &str = "{ me { username } }";

both_databases! {
    async fn step_up_changes_need_the_password_given_in_the_last_five_minutes(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let alice_id = alice(&app).await;
        let (fresh, cookie) = sign_in(&app, PASSWORD).await;
        let create = "mutation($u: String!) { createUser(username: $u, password: \"a long enough password\") { id } }";
        let created = gql(&app, Some(&fresh), create, json!({ "u": "bob" })).await;
        let bob = created["data"]["createUser"]["id"].as_i64().unwrap_or_else(|| panic!("{created}"));

        // The same sign-in twenty minutes on: the password is no longer recent.
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::AuthenticatedAt, Expr::value(Utc::now() - TimeDelta::minutes(20)))
            .exec(&db.conn)
            .await
            .unwrap();
        let (refreshed, _) = refresh(&app, &cookie).await;
        let stale = token_of(&refreshed);
        let step_ups = [
            ("createUser", "mutation { createUser(username: \"carol\", password: \"a long enough password\") { id } }".to_owned()),
            ("setUserActive", format!("mutation {{ setUserActive(id: {bob}, active: false) {{ id }} }}")),
            ("resetPassword", format!("mutation {{ resetPassword(id: {alice_id}, password: \"another long password\") }}")),
            ("resetSecondFactors", format!("mutation {{ resetSecondFactors(userId: {bob}) }}")),
            ("rotateAlertSourceSecret", "mutation { rotateAlertSourceSecret(source: OPSGENIE) { webhookUrl } }".to_owned()),
            ("setSlackSettings", "mutation { setSlackSettings(input: { signingSecret: \"0123456789abcdef0123456789abcdef\" }) { channel } }".to_owned()),
        ];
        for (name, mutation) in &step_ups {
            let refused = gql(&app, Some(&stale), mutation, json!({})).await;
            assert_eq!(code(&refused), "REAUTHENTICATION_REQUIRED", "{name}: {refused}");
        }
        // What is no step-up change still works with the session alone.
        assert_eq!(gql(&app, Some(&stale), ME, json!({})).await["data"]["me"]["username"], "alice");

        let reauthenticate = "mutation($p: String) { reauthenticate(password: $p) { accessToken } }";
        assert_eq!(code(&gql(&app, Some(&stale), reauthenticate, json!({ "p": "not my password" })).await), "BAD_USER_INPUT", "the session is fine");
        assert_eq!(code(&gql(&app, Some(&stale), reauthenticate, json!({})).await), "BAD_USER_INPUT");
        assert_eq!(code(&gql(&app, None, reauthenticate, json!({ "p": PASSWORD })).await), "UNAUTHENTICATED");
        let again = gql(&app, Some(&stale), reauthenticate, json!({ "p": PASSWORD })).await;
        let renewed = again["data"]["reauthenticate"]["accessToken"].as_str().unwrap_or_else(|| panic!("{again}"));
        for (name, mutation) in &step_ups {
            let done = gql(&app, Some(renewed), mutation, json!({})).await;
            assert!(done["errors"].is_null(), "{name}: {done}");
        }
        app.stop().await;
    }

    async fn a_new_password_or_second_factor_ends_every_other_session(db: TestDb) {
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
        let alice_id = alice(&app).await;
        let (mine, _) = sign_in(&app, PASSWORD).await;
        let (theirs, their_cookie) = sign_in(&app, PASSWORD).await;
        let new_password = "a new and long password";
        let changed = gql(&app, Some(&mine), "mutation($id: Int!, $p: String!) { resetPassword(id: $id, password: $p) }", json!({ "id": alice_id, "p": new_password })).await;
        assert_eq!(changed["data"]["resetPassword"], true, "{changed}");
        assert_eq!(gql(&app, Some(&mine), ME, json!({})).await["data"]["me"]["username"], "alice", "the session it was changed in goes on");
        assert_eq!(code(&gql(&app, Some(&theirs), ME, json!({})).await), "UNAUTHENTICATED");
        assert_eq!(code(&refresh(&app, &their_cookie).await.0), "UNAUTHENTICATED");

        let (theirs, their_cookie) = sign_in(&app, new_password).await;
        enrol_totp(&app, &mine).await;
        assert_eq!(gql(&app, Some(&mine), ME, json!({})).await["data"]["me"]["username"], "alice");
        assert_eq!(code(&gql(&app, Some(&theirs), ME, json!({})).await), "UNAUTHENTICATED");
        assert_eq!(code(&refresh(&app, &their_cookie).await.0), "UNAUTHENTICATED");
        app.stop().await;
    }

    async fn a_replaced_refresh_token_used_again_ends_the_whole_sign_in(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        alice(&app).await;
        let (_, first) = sign_in(&app, PASSWORD).await;
        let (answer, second) = refresh(&app, &first).await;
        let access = token_of(&answer);
        let second = second.unwrap();
        // Two tabs refreshing at once: the slower one is refused, nothing else happens.
        assert_eq!(code(&refresh(&app, &first).await.0), "UNAUTHENTICATED");
        assert_eq!(gql(&app, Some(&access), ME, json!({})).await["data"]["me"]["username"], "alice");

        // Minutes later the first token comes back: someone copied it.
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(Utc::now() - TimeDelta::minutes(5)))
            .filter(refresh_token::Column::UsedAt.is_not_null())
            .exec(&db.conn)
            .await
            .unwrap();
        assert_eq!(code(&refresh(&app, &first).await.0), "UNAUTHENTICATED");
        assert_eq!(code(&refresh(&app, &second).await.0), "UNAUTHENTICATED", "the live token of that sign-in ended too");
        assert_eq!(code(&gql(&app, Some(&access), ME, json!({})).await), "UNAUTHENTICATED");
        let audit = audit_entry::Entity::find().all(&db.conn).await.unwrap();
        assert!(audit.iter().any(|entry| entry.message.contains("used again after it had been replaced")), "{audit:?}");
        // Another sign-in is untouched.
        let (other, _) = sign_in(&app, PASSWORD).await;
        assert_eq!(gql(&app, Some(&other), ME, json!({})).await["data"]["me"]["username"], "alice");
        app.stop().await;
    }
}
