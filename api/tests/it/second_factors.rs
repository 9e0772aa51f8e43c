//! Second factors over real HTTP GraphQL: TOTP and WebAuthn enrolment, two-step login,
//! replayed codes and answers, the login limits, and removal.
//!
//! The WebAuthn tests use a software security key written here: an ES256 key pair that
//! answers the server's options the way a browser and a key would (attestation `none`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use monostat::domain::totp::{TotpSecret, step_at};
use monostat::services::StepUp;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{TestApp, TestDb, both_databases};
use crate::graphql::{PASSWORD, code, gql, login};

pub(crate) const SITE: &str = "https://status.example.com";
const LOGIN: &str = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
    accessToken user { id username } secondFactor { pendingToken expiresAt methods webauthnOptions } } }";
const LOGIN_TOTP: &str = "mutation($t: String!, $c: String!) { loginTotp(pendingToken: $t, code: $c) { accessToken user { username } } }";
const LOGIN_WEBAUTHN: &str = "mutation($t: String!, $c: String!) { loginWebauthn(pendingToken: $t, credential: $c) { accessToken } }";

async fn password_step(app: &TestApp) -> Value {
    gql(app, None, LOGIN, json!({ "u": "alice", "p": PASSWORD })).await
}

/// Logs in with the password and expects a second factor to be due.
async fn pending(app: &TestApp) -> (String, Value) {
    let response = password_step(app).await;
    let login = &response["data"]["login"];
    assert_eq!(login["accessToken"], Value::Null, "{response}");
    assert_eq!(login["user"]["username"], "alice");
    let challenge = login["secondFactor"].clone();
    (
        challenge["pendingToken"].as_str().unwrap().to_owned(),
        challenge,
    )
}

/// Enrols an authenticator app and returns its secret and the step its confirming
/// code was taken from.
pub(crate) async fn enrol_totp(app: &TestApp, token: &str) -> (TotpSecret, i64) {
    let begun = gql(
        app,
        Some(token),
        "mutation { beginTotpEnrolment(name: \"Phone\") { factorId secret uri } }",
        json!({}),
    )
    .await;
    let enrolment = &begun["data"]["beginTotpEnrolment"];
    let secret_text = enrolment["secret"].as_str().unwrap();
    let uri = enrolment["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/status.example.com:alice?secret="),
        "{uri}"
    );
    assert!(uri.contains(secret_text));
    let secret = TotpSecret::from_base32(secret_text).unwrap();

    let confirm = "mutation($id: Int!, $c: String!) { confirmTotpEnrolment(factorId: $id, code: $c) { id kind name } }";
    let id = enrolment["factorId"].clone();
    let wrong = gql(
        app,
        Some(token),
        confirm,
        json!({ "id": id, "c": wrong_code(&secret) }),
    )
    .await;
    assert_eq!(code(&wrong), "BAD_USER_INPUT");
    let step = step_at(Utc::now());
    let confirmed = gql(
        app,
        Some(token),
        confirm,
        json!({ "id": id, "c": secret.code_at(step) }),
    )
    .await;
    assert_eq!(
        confirmed["data"]["confirmTotpEnrolment"]["kind"], "TOTP",
        "{confirmed}"
    );
    assert_eq!(confirmed["data"]["confirmTotpEnrolment"]["name"], "Phone");
    (secret, step)
}

/// Six digits that are none of the codes the server accepts now.
fn wrong_code(secret: &TotpSecret) -> String {
    let now = step_at(Utc::now());
    let near: Vec<String> = (now - 2..=now + 2).map(|s| secret.code_at(s)).collect();
    ["000000", "111111", "222222"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap()
        .to_owned()
}

both_databases! {
    async fn totp_enrolment_makes_login_two_steps_and_codes_work_once(db: TestDb) {
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
        let token = login(&app).await;
        let anonymous = gql(&app, None, "mutation { beginTotpEnrolment { factorId } }", json!({})).await;
        assert_eq!(code(&anonymous), "UNAUTHENTICATED");

        let (secret, step) = enrol_totp(&app, &token).await;
        let listed = gql(&app, Some(&token), "{ secondFactors { id kind name lastUsed } }", json!({})).await;
        let factors = listed["data"]["secondFactors"].as_array().unwrap();
        assert_eq!(factors.len(), 1);
        assert_eq!(factors[0]["kind"], "TOTP");

        // The password alone no longer opens a session.
        let (pending_token, challenge) = pending(&app).await;
        assert_eq!(challenge["methods"], json!(["TOTP"]));
        assert_eq!(challenge["webauthnOptions"], Value::Null);
        // A pending-login token is no access token.
        let me = gql(&app, Some(&pending_token), "{ me { username } }", json!({})).await;
        assert_eq!(code(&me), "UNAUTHENTICATED");
        // A tampered pending-login token is refused.
        let mut tampered = pending_token.clone();
        let signature_start = tampered.rfind('.').unwrap() + 1;
        let flipped = if tampered[signature_start..].starts_with('A') { "B" } else { "A" };
        tampered.replace_range(signature_start..=signature_start, flipped);
        let refused = gql(&app, None, LOGIN_TOTP, json!({ "t": tampered, "c": secret.code_at(step + 1) })).await;
        assert_eq!(refused["errors"][0]["message"], "the login has expired; enter your username and password again");
        // Nor is an access token a pending-login token.
        let swapped = gql(&app, None, LOGIN_TOTP, json!({ "t": token, "c": secret.code_at(step + 1) })).await;
        assert_eq!(code(&swapped), "UNAUTHENTICATED");

        let wrong = gql(&app, None, LOGIN_TOTP, json!({ "t": pending_token, "c": wrong_code(&secret) })).await;
        assert_eq!(code(&wrong), "UNAUTHENTICATED");
        assert_eq!(wrong["errors"][0]["message"], "the second factor was not accepted");

        // The confirming code's time step is used up already.
        let replayed = gql(&app, None, LOGIN_TOTP, json!({ "t": pending_token, "c": secret.code_at(step) })).await;
        assert_eq!(code(&replayed), "UNAUTHENTICATED");
        assert_eq!(replayed["errors"][0]["message"], "this code was already used; wait for the next one");

        // The next step's code opens the session, with the refresh cookie.
        let next_code = secret.code_at(step + 1);
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": LOGIN_TOTP, "variables": { "t": pending_token, "c": next_code } }))
            .send()
            .await
            .unwrap();
        let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
        assert!(cookie.starts_with("monostat_refresh=") && cookie.contains("HttpOnly"), "{cookie}");
        let session: Value = response.json().await.unwrap();
        let access = session["data"]["loginTotp"]["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(session["data"]["loginTotp"]["user"]["username"], "alice");
        let me = gql(&app, Some(&access), "{ me { username } }", json!({})).await;
        assert_eq!(me["data"]["me"]["username"], "alice");
        // One password step buys one session: the pending token is spent.
        let spent = gql(&app, None, LOGIN_TOTP, json!({ "t": pending_token, "c": secret.code_at(step + 2) })).await;
        assert_eq!(spent["errors"][0]["message"], "the login has expired; enter your username and password again");

        // The same code again, with a fresh pending login: refused.
        let (again, _) = pending(&app).await;
        let replayed = gql(&app, None, LOGIN_TOTP, json!({ "t": again, "c": next_code })).await;
        assert_eq!(code(&replayed), "UNAUTHENTICATED");
        assert_eq!(replayed["errors"][0]["message"], "this code was already used; wait for the next one");
        let webauthn = gql(&app, None, LOGIN_WEBAUTHN, json!({ "t": again, "c": "{}" })).await;
        assert_eq!(code(&webauthn), "BAD_USER_INPUT", "no security key to answer with");

        let audit = gql(&app, Some(&access), "{ auditLog { actorName message } }", json!({})).await;
        assert!(
            audit["data"]["auditLog"].as_array().unwrap().iter().any(|e| e["message"] == "Added the authenticator app “Phone” as a second factor" && e["actorName"] == "alice"),
            "{audit}"
        );
        app.stop().await;
    }

    async fn wrong_second_factors_count_towards_the_login_limit(db: TestDb) {
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
        let token = login(&app).await;
        let (secret, step) = enrol_totp(&app, &token).await;
        let (first, _) = pending(&app).await;
        for _ in 0..4 {
            let wrong = gql(&app, None, LOGIN_TOTP, json!({ "t": first, "c": wrong_code(&secret) })).await;
            assert_eq!(code(&wrong), "UNAUTHENTICATED");
        }
        // A right password does not wipe the count while the second factor is due.
        let (second, _) = pending(&app).await;
        let wrong = gql(&app, None, LOGIN_TOTP, json!({ "t": second, "c": wrong_code(&secret) })).await;
        assert_eq!(code(&wrong), "UNAUTHENTICATED");
        let limited = gql(&app, None, LOGIN_TOTP, json!({ "t": second, "c": secret.code_at(step + 1) })).await;
        assert_eq!(code(&limited), "TOO_MANY_REQUESTS", "{limited}");
        assert_eq!(code(&password_step(&app).await), "TOO_MANY_REQUESTS");
        app.stop().await;
    }

    async fn security_key_registration_and_login(db: TestDb) {
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
        let token = login(&app).await;
        let mut key = SoftKey::new(7);

        let begin_registration = "mutation { beginWebauthnRegistration(name: \"YubiKey\") { registrationId options } }";
        let finish = "mutation($id: Int!, $c: String!) { finishWebauthnRegistration(registrationId: $id, credential: $c) { id kind name } }";
        let begun = gql(&app, Some(&token), begin_registration, json!({})).await;
        let registration = &begun["data"]["beginWebauthnRegistration"];
        let options: Value = serde_json::from_str(registration["options"].as_str().unwrap()).unwrap();
        assert_eq!(options["publicKey"]["rp"]["id"], "status.example.com");
        // Consistent with credProtect's "verification required", or Chromium refuses.
        assert_eq!(options["publicKey"]["authenticatorSelection"]["userVerification"], "required");

        // An answer to another challenge is refused, and uses the registration up.
        let forged = key.register(&options, Some("c29tZXRoaW5nIGVsc2U"));
        let refused = gql(&app, Some(&token), finish, json!({ "id": registration["registrationId"], "c": forged })).await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
        let malformed = gql(&app, Some(&token), finish, json!({ "id": registration["registrationId"], "c": "not json" })).await;
        assert_eq!(code(&malformed), "BAD_USER_INPUT");

        let begun = gql(&app, Some(&token), begin_registration, json!({})).await;
        let registration = &begun["data"]["beginWebauthnRegistration"];
        let options: Value = serde_json::from_str(registration["options"].as_str().unwrap()).unwrap();
        let answer = key.register(&options, None);
        let added = gql(&app, Some(&token), finish, json!({ "id": registration["registrationId"], "c": answer })).await;
        assert_eq!(added["data"]["finishWebauthnRegistration"]["kind"], "WEBAUTHN", "{added}");
        assert_eq!(added["data"]["finishWebauthnRegistration"]["name"], "YubiKey");
        let other_key = SoftKey::new(8).register(&options, None);
        let again = gql(&app, Some(&token), finish, json!({ "id": registration["registrationId"], "c": other_key })).await;
        assert_eq!(code(&again), "BAD_USER_INPUT", "a registration is finished once");
        assert_eq!(again["errors"][0]["message"], "this enrolment has expired or was already finished; start again");

        // Login: the password, then the key's signature over the login challenge.
        let (pending_token, challenge) = pending(&app).await;
        assert_eq!(challenge["methods"], json!(["WEBAUTHN"]));
        let request: Value = serde_json::from_str(challenge["webauthnOptions"].as_str().unwrap()).unwrap();
        let allowed = &request["publicKey"]["allowCredentials"][0]["id"];
        assert_eq!(allowed.as_str().unwrap(), URL_SAFE_NO_PAD.encode(&key.credential_id));

        // Signed for another login's challenge: refused, and the challenge is spent.
        let (other_token, other) = pending(&app).await;
        let other_request: Value = serde_json::from_str(other["webauthnOptions"].as_str().unwrap()).unwrap();
        let wrong_challenge = key.assert(&other_request);
        let refused = gql(&app, None, LOGIN_WEBAUTHN, json!({ "t": pending_token, "c": wrong_challenge })).await;
        assert_eq!(code(&refused), "UNAUTHENTICATED", "{refused}");
        let spent = gql(&app, None, LOGIN_WEBAUTHN, json!({ "t": pending_token, "c": key.assert(&request) })).await;
        assert_eq!(code(&spent), "UNAUTHENTICATED", "one answer per challenge");
        // A signature by another key is refused too.
        let (third_token, third) = pending(&app).await;
        let third_request: Value = serde_json::from_str(third["webauthnOptions"].as_str().unwrap()).unwrap();
        let mut impostor = SoftKey::new(9);
        impostor.credential_id.clone_from(&key.credential_id);
        let refused = gql(&app, None, LOGIN_WEBAUTHN, json!({ "t": third_token, "c": impostor.assert(&third_request) })).await;
        assert_eq!(code(&refused), "UNAUTHENTICATED");

        let answer = key.assert(&other_request);
        let session = gql(&app, None, LOGIN_WEBAUTHN, json!({ "t": other_token, "c": answer })).await;
        let access = session["data"]["loginWebauthn"]["accessToken"].as_str().unwrap().to_owned();
        let listed = gql(&app, Some(&access), "{ secondFactors { kind name lastUsed } }", json!({})).await;
        assert_eq!(listed["data"]["secondFactors"][0]["name"], "YubiKey");
        assert!(listed["data"]["secondFactors"][0]["lastUsed"].is_string(), "{listed}");
        let replayed = gql(&app, None, LOGIN_WEBAUTHN, json!({ "t": other_token, "c": answer })).await;
        assert_eq!(code(&replayed), "UNAUTHENTICATED", "the same answer again");

        // The same key cannot be registered twice.
        let begun = gql(&app, Some(&access), begin_registration, json!({})).await;
        let registration = &begun["data"]["beginWebauthnRegistration"];
        let options: Value = serde_json::from_str(registration["options"].as_str().unwrap()).unwrap();
        assert_eq!(
            options["publicKey"]["excludeCredentials"][0]["id"].as_str().unwrap(),
            URL_SAFE_NO_PAD.encode(&key.credential_id)
        );
        let twice = gql(&app, Some(&access), finish, json!({ "id": registration["registrationId"], "c": key.register(&options, None) })).await;
        assert_eq!(code(&twice), "CONFLICT", "{twice}");
        assert_eq!(twice["errors"][0]["message"], "this security key is already registered");
        // Nor on another account.
        app.services.users.create("bob", "bobs long password", &monostat::domain::Actor::System, &StepUp::command_line()).await.unwrap();
        let bob = gql(&app, None, "mutation { login(username: \"bob\", password: \"bobs long password\") { accessToken } }", json!({})).await;
        let bob = bob["data"]["login"]["accessToken"].as_str().unwrap().to_owned();
        let begun = gql(&app, Some(&bob), begin_registration, json!({})).await;
        let registration = &begun["data"]["beginWebauthnRegistration"];
        let options: Value = serde_json::from_str(registration["options"].as_str().unwrap()).unwrap();
        let stolen = gql(&app, Some(&bob), finish, json!({ "id": registration["registrationId"], "c": key.register(&options, None) })).await;
        assert_eq!(code(&stolen), "CONFLICT", "{stolen}");
        app.stop().await;
    }

    async fn removing_the_last_factor_restores_one_step_login(db: TestDb) {
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
        let token = login(&app).await;
        let (_, _) = enrol_totp(&app, &token).await;
        let mut key = SoftKey::new(11);
        let begun = gql(&app, Some(&token), "mutation { beginWebauthnRegistration { registrationId options } }", json!({})).await;
        let registration = &begun["data"]["beginWebauthnRegistration"];
        let options: Value = serde_json::from_str(registration["options"].as_str().unwrap()).unwrap();
        gql(&app, Some(&token), "mutation($id: Int!, $c: String!) { finishWebauthnRegistration(registrationId: $id, credential: $c) { id } }",
            json!({ "id": registration["registrationId"], "c": key.register(&options, None) })).await;

        let (_, challenge) = pending(&app).await;
        assert_eq!(challenge["methods"], json!(["TOTP", "WEBAUTHN"]));

        let listed = gql(&app, Some(&token), "{ secondFactors { id kind name } }", json!({})).await;
        let factors = listed["data"]["secondFactors"].as_array().unwrap().clone();
        assert_eq!(factors.len(), 2);
        let remove = "mutation($id: Int!) { removeSecondFactor(id: $id) }";
        let unknown = gql(&app, Some(&token), remove, json!({ "id": 999_999 })).await;
        assert_eq!(code(&unknown), "NOT_FOUND");
        let anonymous = gql(&app, None, remove, json!({ "id": factors[0]["id"] })).await;
        assert_eq!(code(&anonymous), "UNAUTHENTICATED");
        // Another user cannot remove alice's factors.
        app.services.users.create("bob", "bobs long password", &monostat::domain::Actor::System, &StepUp::command_line()).await.unwrap();
        let bob = gql(&app, None, "mutation { login(username: \"bob\", password: \"bobs long password\") { accessToken } }", json!({})).await;
        let bob = bob["data"]["login"]["accessToken"].as_str().unwrap().to_owned();
        let foreign = gql(&app, Some(&bob), remove, json!({ "id": factors[0]["id"] })).await;
        assert_eq!(code(&foreign), "NOT_FOUND");

        for factor in &factors {
            let removed = gql(&app, Some(&token), remove, json!({ "id": factor["id"] })).await;
            assert_eq!(removed["data"]["removeSecondFactor"], true, "{removed}");
        }
        let one_step = password_step(&app).await;
        assert!(one_step["data"]["login"]["accessToken"].is_string(), "{one_step}");
        assert_eq!(one_step["data"]["login"]["secondFactor"], Value::Null);

        // A user who lost their phone: another user resets their factors.
        enrol_totp(&app, &token).await;
        let (_, _) = pending(&app).await;
        let reset = "mutation($id: Int!) { resetSecondFactors(userId: $id) }";
        let unknown = gql(&app, Some(&bob), reset, json!({ "id": 999_999 })).await;
        assert_eq!(code(&unknown), "NOT_FOUND");
        let alice_id = one_step["data"]["login"]["user"]["id"].clone();
        let reset = gql(&app, Some(&bob), reset, json!({ "id": alice_id })).await;
        assert_eq!(reset["data"]["resetSecondFactors"], 1, "{reset}");
        assert!(password_step(&app).await["data"]["login"]["accessToken"].is_string());

        let audit = gql(&app, Some(&token), "{ auditLog { message } }", json!({})).await;
        let messages: Vec<&str> = audit["data"]["auditLog"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert!(messages.contains(&"Removed the authenticator app “Phone” as a second factor"), "{messages:?}");
        assert!(messages.contains(&"Removed the security key “Security key” as a second factor"), "{messages:?}");
        assert!(messages.contains(&"Added the security key “Security key” as a second factor"), "{messages:?}");
        assert!(messages.contains(&"Removed every second factor of alice"), "{messages:?}");
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_keys_need_a_site_url_with_a_host_name() {
    let db = TestDb::sqlite().await;
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", "http://127.0.0.1:8080")])).await;
    let token = login(&app).await;
    let begun = gql(
        &app,
        Some(&token),
        "mutation { beginWebauthnRegistration { registrationId } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&begun), "UNAVAILABLE");
    assert!(
        begun["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("MONOSTAT_SITE_URL"),
        "{begun}"
    );
    let long_name = "x".repeat(65);
    let named = gql(
        &app,
        Some(&token),
        "mutation($n: String) { beginTotpEnrolment(name: $n) { factorId } }",
        json!({ "n": long_name }),
    )
    .await;
    assert_eq!(code(&named), "BAD_USER_INPUT");
    app.stop().await;
}

/// A software security key: one ES256 credential, answering as a browser would.
struct SoftKey {
    signing: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
}

/// User present and user verified, as a key with a PIN reports them.
const FLAGS_UP_UV: u8 = 0x01 | 0x04;
const FLAG_ATTESTED_DATA: u8 = 0x40;

impl SoftKey {
    fn new(seed: u8) -> Self {
        let signing = SigningKey::from_slice(&[seed; 32]).unwrap();
        Self {
            signing,
            credential_id: Sha256::digest([seed]).to_vec(),
            counter: 0,
        }
    }

    /// The `PublicKeyCredential` JSON for `navigator.credentials.create(options)`; with
    /// `challenge`, signed for that challenge instead of the one in `options`.
    fn register(&mut self, options: &Value, challenge: Option<&str>) -> String {
        let public = &options["publicKey"];
        let challenge = challenge.unwrap_or_else(|| public["challenge"].as_str().unwrap());
        let rp_id = public["rp"]["id"].as_str().unwrap();
        let client_data = client_data("webauthn.create", challenge);

        let point = self.signing.verifying_key().to_encoded_point(false);
        let cose_key = cbor_map(&[
            (cbor_int(1), cbor_int(2)),  // kty: EC2
            (cbor_int(3), cbor_int(-7)), // alg: ES256
            (cbor_int(-1), cbor_int(1)), // crv: P-256
            (cbor_int(-2), cbor_bytes(point.x().unwrap())),
            (cbor_int(-3), cbor_bytes(point.y().unwrap())),
        ]);
        self.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(FLAGS_UP_UV | FLAG_ATTESTED_DATA);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]); // AAGUID
        auth_data.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose_key);
        let attestation = cbor_map(&[
            (cbor_text("fmt"), cbor_text("none")),
            (cbor_text("attStmt"), cbor_map(&[])),
            (cbor_text("authData"), cbor_bytes(&auth_data)),
        ]);
        json!({
            "id": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "rawId": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }

    /// The `PublicKeyCredential` JSON for `navigator.credentials.get(options)`.
    fn assert(&mut self, options: &Value) -> String {
        let public = &options["publicKey"];
        let challenge = public["challenge"].as_str().unwrap();
        let rp_id = public["rpId"].as_str().unwrap();
        let client_data = client_data("webauthn.get", challenge);
        self.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(FLAGS_UP_UV);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.signing.sign(&signed);
        json!({
            "id": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "rawId": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
                "userHandle": null,
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }
}

fn client_data(kind: &str, challenge: &str) -> Vec<u8> {
    json!({ "type": kind, "challenge": challenge, "origin": SITE, "crossOrigin": false })
        .to_string()
        .into_bytes()
}

/// Just enough CBOR (RFC 8949) for an attestation object and a COSE key: a head is
/// the major type and the value or length, inline below 0x18, else in 1, 2 or 4 bytes.
fn cbor_head(major: u8, value: u64) -> Vec<u8> {
    let major = major << 5;
    match value {
        0..=23 => vec![major | u8::try_from(value).unwrap()],
        24..=0xff => vec![major | 0x18, u8::try_from(value).unwrap()],
        0x100..=0xffff => {
            let mut out = vec![major | 0x19];
            out.extend_from_slice(&u16::try_from(value).unwrap().to_be_bytes());
            out
        }
        _ => {
            let mut out = vec![major | 0x1a];
            out.extend_from_slice(&u32::try_from(value).unwrap().to_be_bytes());
            out
        }
    }
}

fn cbor_int(value: i64) -> Vec<u8> {
    if value >= 0 {
        cbor_head(0, value.unsigned_abs())
    } else {
        cbor_head(1, (-1 - value).unsigned_abs())
    }
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(2, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = cbor_head(3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
    out
}

fn cbor_map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = cbor_head(5, entries.len() as u64);
    for (key, value) in entries {
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_key_the_server_cannot_check_never_lets_the_password_alone_in() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
    let token = login(&app).await;
    let mut key = SoftKey::new(13);
    let begun = gql(
        &app,
        Some(&token),
        "mutation { beginWebauthnRegistration { registrationId options } }",
        json!({}),
    )
    .await;
    let registration = &begun["data"]["beginWebauthnRegistration"];
    let options: Value = serde_json::from_str(registration["options"].as_str().unwrap()).unwrap();
    let added = gql(
        &app,
        Some(&token),
        "mutation($id: Int!, $c: String!) { finishWebauthnRegistration(registrationId: $id, credential: $c) { id } }",
        json!({ "id": registration["registrationId"], "c": key.register(&options, None) }),
    )
    .await;
    assert!(
        added["data"]["finishWebauthnRegistration"]["id"].is_i64(),
        "{added}"
    );
    app.stop().await;

    // The same database behind a URL that cannot serve WebAuthn.
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", "http://127.0.0.1:8080")])).await;
    let refused = password_step(&app).await;
    assert_eq!(code(&refused), "UNAVAILABLE", "{refused}");
    assert_eq!(refused["data"], Value::Null);
    app.stop().await;
}
