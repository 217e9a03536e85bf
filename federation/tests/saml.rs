//! The SAML service provider (`mcpauth_federation::saml`) against a real IdP: the pysaml2
//! fixture in `tests/idp/saml` (installed by its `install.sh`, one private IdP per test on a
//! free loopback port, killed when the test ends). Each test logs in through the IdP's HTML
//! form like a browser would, then hands the posted `SAMLResponse` to `SamlSp::verify`.
//!
//! Replay is not refused here (the caller keeps the replay cache in the replicated state), so
//! the same response verifies twice: see `the_same_response_verifies_twice`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use mcpauth_federation::config::{
    NameIdChoice, ProviderConfig, ProviderSpec, SamlAttributes, SamlConfig,
};
use mcpauth_federation::http::Outbound;
use mcpauth_federation::saml::{sp_metadata, MetadataTiming, SamlSp, SpInfo, VerifiedAssertion};
use mcpauth_federation::{Identity, OutboundLimits, UpstreamError};
use mcpauth_state::IdentityProvider;
use mcpauth_tests::free_port;
use mcpauth_tests::idp::{fixture, install, temp_dir, Process};

const RELAY_STATE: &str = "relay-Zm9vYmFy_state";
/// The NameIDFormat element's content, with or without a namespace prefix on the element.
const PERSISTENT_FORMAT: &str =
    "NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</";
const EMAIL_FORMAT: &str = "NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</";
const UNSPECIFIED_FORMAT: &str = "nameid-format:unspecified";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A running fixture IdP at `http://127.0.0.1:{port}`, its files in `{dir}/idp`.
struct Idp {
    process: Process,
    port: u16,
}

impl Idp {
    fn start(dir: &Path, port: u16, sp_metadata_file: &Path) -> Self {
        // Once per test process (xmlsec1 and the venv), so that parallel tests never prepare
        // the venv at the same time.
        install("saml");
        let started = Instant::now();
        let log = std::fs::File::create(dir.join("idp.log")).expect("idp log file");
        let mut command = Command::new("bash");
        command
            .arg(fixture("saml").join("run"))
            .args(["--dir", &dir.join("idp").to_string_lossy()])
            .args(["--port", &port.to_string()])
            .arg("--sp-metadata")
            .arg(sp_metadata_file)
            .stdin(Stdio::null())
            .stderr(Stdio::from(log));
        let process = Process::start(&mut command, Duration::from_secs(60)).unwrap_or_else(|why| {
            panic!(
                "the SAML IdP did not start ({why}); its log:\n{}",
                std::fs::read_to_string(dir.join("idp.log")).unwrap_or_default()
            )
        });
        eprintln!(
            "SAML IdP on port {port} ready in {} ms",
            started.elapsed().as_millis()
        );
        Idp { process, port }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        self.process.stop();
    }
}

/// One SP (entity ID and ACS on a port nothing listens on) and its IdP.
struct Fixture {
    dir: PathBuf,
    idp: Idp,
    sp: SpInfo,
    saml: SamlSp,
    provider: IdentityProvider,
    config: SamlConfig,
    browser: reqwest::Client,
}

fn outbound() -> Outbound {
    Outbound::new(OutboundLimits::default()).expect("outbound client")
}

fn provider(config: &SamlConfig, updated_at: u64) -> IdentityProvider {
    IdentityProvider {
        id: "test".into(),
        kind: "saml".into(),
        display_name: "Test SAML IdP".into(),
        enabled: true,
        config_json: serde_json::to_string(&ProviderConfig::Saml(config.clone()))
            .expect("config json"),
        sealed_secret: None,
        updated_at,
    }
}

/// Our side, asking for `name_id_format` (`unspecified` leaves the choice to the IdP's
/// `nameid` knob, which most tests set).
fn sp_info(name_id_format: NameIdChoice) -> SpInfo {
    let port = free_port();
    SpInfo {
        entity_id: format!("http://127.0.0.1:{port}/saml/test/metadata"),
        acs_url: format!("http://127.0.0.1:{port}/saml/test/acs"),
        name_id_format,
    }
}

impl Fixture {
    fn start() -> Self {
        Self::start_with(MetadataTiming::default())
    }

    fn start_with(timing: MetadataTiming) -> Self {
        Self::start_asking(NameIdChoice::Unspecified, timing)
    }

    fn start_asking(name_id_format: NameIdChoice, timing: MetadataTiming) -> Self {
        let dir = temp_dir("saml-test-idp");
        let sp = sp_info(name_id_format);
        let sp_file = dir.join("sp-metadata.xml");
        std::fs::write(&sp_file, sp_metadata(&sp)).expect("write SP metadata");
        let idp = Idp::start(&dir, free_port(), &sp_file);
        let config = SamlConfig {
            idp_metadata_url: Some(format!("{}/metadata", idp.base())),
            idp_metadata_xml: None,
            sp_entity_id: Some(sp.entity_id.clone()),
            attributes: SamlAttributes::default(),
            clock_skew_secs: 60,
            name_id_format: Some(name_id_format),
        };
        Fixture {
            dir,
            provider: provider(&config, 1),
            config,
            sp,
            saml: SamlSp::new(outbound()).with_metadata_timing(timing),
            browser: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("browser client"),
            idp,
        }
    }

    /// Restart the IdP on the same port (it makes a new signing key at every start).
    fn restart_idp(&mut self) {
        self.idp.stop();
        self.idp = Idp::start(&self.dir, self.idp.port, &self.dir.join("sp-metadata.xml"));
    }

    async fn set_mode(&self, mode: &str, sign: &str, nameid: &str) {
        let answer = self
            .browser
            .post(format!("{}/_test/mode", self.idp.base()))
            .form(&[("mode", mode), ("sign", sign), ("nameid", nameid)])
            .send()
            .await
            .expect("set IdP mode");
        assert!(answer.status().is_success(), "IdP refused the mode");
    }

    /// Set some of the IdP's knobs (`mode`, `sign`, `nameid`, `alg`), leaving the others.
    async fn set_knobs(&self, knobs: &[(&str, &str)]) {
        let answer = self
            .browser
            .post(format!("{}/_test/mode", self.idp.base()))
            .form(knobs)
            .send()
            .await
            .expect("set IdP knobs");
        assert!(answer.status().is_success(), "IdP refused the knobs");
    }

    /// Start a login at the IdP, as a browser following our redirect: the AuthnRequest ID and
    /// the login form's token.
    async fn begin(&self) -> (String, String) {
        let (url, request_id) = self
            .saml
            .login_redirect(&self.provider, &self.config, &self.sp, RELAY_STATE)
            .await
            .expect("login redirect");
        let parsed = url::Url::parse(&url).expect("redirect URL");
        assert_eq!(
            format!("{}{}", parsed.origin().ascii_serialization(), parsed.path()),
            format!("{}/sso", self.idp.base())
        );
        let query: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert!(query.iter().any(|(k, _)| k == "SAMLRequest"));
        assert!(query.contains(&("RelayState".into(), RELAY_STATE.into())));
        assert!(!query.iter().any(|(k, _)| k == "Signature"));
        let page = self.browser.get(url).send().await.expect("GET /sso");
        assert_eq!(page.status(), 200, "the IdP refused our AuthnRequest");
        let html = page.text().await.expect("login page");
        let token = hidden_input(&html, "token").expect("token in the login form");
        (request_id, token)
    }

    /// Submit the login form: the `SAMLResponse` the IdP posts back, and the RelayState.
    async fn submit(
        &self,
        token: &str,
        user: &str,
        password: &str,
        action: &str,
    ) -> (String, String) {
        let html = self
            .browser
            .post(format!("{}/sso/login", self.idp.base()))
            .form(&[
                ("token", token),
                ("username", user),
                ("password", password),
                ("action", action),
            ])
            .send()
            .await
            .expect("POST /sso/login")
            .text()
            .await
            .expect("response page");
        assert!(
            html.contains(r#"id="saml-post""#),
            "no SAML POST form in:\n{html}"
        );
        assert!(html.contains(&format!(r#"action="{}""#, self.sp.acs_url)));
        let response = hidden_input(&html, "SAMLResponse").expect("SAMLResponse field");
        let relay = hidden_input(&html, "RelayState").expect("RelayState field");
        (response, relay)
    }

    /// A whole login as `user`: the AuthnRequest ID and the response.
    async fn login_as(&self, user: &str, password: &str) -> (String, String) {
        let (request_id, token) = self.begin().await;
        let (response, relay) = self.submit(&token, user, password, "login").await;
        assert_eq!(relay, RELAY_STATE);
        (request_id, response)
    }

    async fn login(&self) -> (String, String) {
        self.login_as("alice", "alice-password").await
    }

    async fn verify(
        &self,
        response: &str,
        request_id: &str,
    ) -> Result<VerifiedAssertion, UpstreamError> {
        self.verify_at(response, request_id, unix_now()).await
    }

    async fn verify_at(
        &self,
        response: &str,
        request_id: &str,
        now: u64,
    ) -> Result<VerifiedAssertion, UpstreamError> {
        self.saml
            .verify(
                &self.provider,
                &self.config,
                &self.sp,
                response,
                request_id,
                now,
            )
            .await
    }

    /// A login in `mode`, which must be refused as `Invalid` with a reason containing `words`.
    async fn refused(&self, mode: &str, words: &str) {
        self.set_mode(mode, "assertion", "email").await;
        self.login_refused(words).await;
    }

    /// A login as alice, which must be refused as `Invalid` with a reason containing `words`.
    async fn login_refused(&self, words: &str) {
        let (request_id, response) = self.login().await;
        let reason = invalid(self.verify(&response, &request_id).await);
        assert!(
            reason.contains(words),
            "expected a reason with {words:?}, got {reason:?}"
        );
    }

    /// A login as alice, which must verify (`what` names the case if it does not).
    async fn alice_verifies(&self, what: &str) {
        let (request_id, response) = self.login().await;
        let verified = self.verify(&response, &request_id).await.expect(what);
        assert_alice(&verified, unix_now());
    }

    /// The IdP's metadata document.
    async fn idp_metadata(&self) -> String {
        reqwest::get(format!("{}/metadata", self.idp.base()))
            .await
            .expect("GET /metadata")
            .text()
            .await
            .expect("metadata")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.idp.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of `<input type="hidden" name="{name}" value="...">` (HTML-unescaped enough for
/// base64 and our RelayState).
fn hidden_input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!(r#"name="{name}""#))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value = tag.split(r#"value=""#).nth(1)?;
    Some(value[..value.find('"')?].replace("&amp;", "&"))
}

/// The reason of an `Invalid` refusal (anything else panics).
fn invalid(result: Result<VerifiedAssertion, UpstreamError>) -> String {
    match result {
        Err(UpstreamError::Invalid(reason)) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn alice() -> Identity {
    Identity {
        subject: "alice@example.test".into(),
        username: Some("alice@example.test".into()),
        email: Some("alice@example.test".into()),
        name: Some("Alice Liddell".into()),
        groups: vec!["engineers".into(), "admins".into()],
    }
}

fn assert_alice(verified: &VerifiedAssertion, now: u64) {
    assert_eq!(verified.identity, alice());
    assert!(!verified.assertion_id.is_empty());
    // NotOnOrAfter = now + 5 min at the IdP, plus our 60 s of skew.
    assert!(
        (now + 300..=now + 60 + 300 + 30).contains(&verified.expires_at),
        "expires_at {} is not about now + 360 ({now})",
        verified.expires_at
    );
}

#[tokio::test]
async fn alice_signs_in() {
    let f = Fixture::start();
    let started = Instant::now();
    let (request_id, response) = f.login().await;
    let now = unix_now();
    let verified = f.verify(&response, &request_id).await.expect("verified");
    assert_alice(&verified, now);
    eprintln!("login + verify: {} ms", started.elapsed().as_millis());
}

#[tokio::test]
async fn a_signed_response_is_accepted() {
    let f = Fixture::start();
    f.set_mode("normal", "response", "email").await;
    f.alice_verifies("verified").await;
}

#[tokio::test]
async fn a_response_and_assertion_both_signed_are_accepted() {
    let f = Fixture::start();
    f.set_mode("normal", "both", "email").await;
    f.alice_verifies("verified").await;
}

#[tokio::test]
async fn persistent_nameid_is_the_subject_and_attributes_stay() {
    let f = Fixture::start();
    f.set_mode("normal", "assertion", "persistent").await;
    let (request_id, response) = f.login_as("carol", "carol-password").await;
    let verified = f.verify(&response, &request_id).await.expect("verified");
    assert_eq!(
        verified.identity,
        Identity {
            subject: "5b0f2c1e-7a7d-4d0e-9a51-000000000003".into(),
            username: Some("carol@example.test".into()),
            email: Some("carol@example.test".into()),
            name: Some("Carol".into()),
            groups: vec![],
        }
    );
}

/// The NameID format we ask for decides, whatever the IdP would pick on its own (its `nameid`
/// knob answers only requests that leave the choice to it).
#[tokio::test]
async fn the_name_id_format_we_ask_for_is_the_one_we_get() {
    let persistent = Fixture::start_asking(NameIdChoice::Persistent, MetadataTiming::default());
    persistent.set_mode("normal", "assertion", "email").await;
    let (request_id, response) = persistent.login().await;
    let verified = persistent
        .verify(&response, &request_id)
        .await
        .expect("verified");
    assert_eq!(
        verified.identity.subject,
        "5b0f2c1e-7a7d-4d0e-9a51-000000000001"
    );
    assert_eq!(
        verified.identity.email.as_deref(),
        Some("alice@example.test")
    );

    let email = Fixture::start_asking(NameIdChoice::Email, MetadataTiming::default());
    email.set_mode("normal", "assertion", "persistent").await;
    let (request_id, response) = email.login().await;
    let verified = email
        .verify(&response, &request_id)
        .await
        .expect("verified");
    assert_eq!(verified.identity.subject, "alice@example.test");
}

/// A new provider asks for persistent; one stored before the setting existed keeps asking
/// for unspecified (its people's subjects must not change under them).
#[test]
fn new_providers_ask_for_persistent_and_old_records_keep_unspecified() {
    let sealer = mcpauth_crypto::Sealer::new(&[1u8; 32]).expect("sealer");
    let spec = |extra: serde_json::Value| {
        let mut body = serde_json::json!({
            "id": "corp", "kind": "saml", "idp_metadata_url": "https://idp.example.test/metadata",
        });
        body.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        let stored = ProviderSpec::from_json(body)
            .expect("spec")
            .into_stored(&sealer, 1)
            .expect("valid");
        match ProviderConfig::of(&stored).expect("stored config") {
            ProviderConfig::Saml(config) => (stored, config),
            other => panic!("not SAML: {other:?}"),
        }
    };
    let (stored, config) = spec(serde_json::json!({}));
    assert_eq!(config.name_id(), NameIdChoice::Persistent);
    assert!(stored
        .config_json
        .contains(r#""name_id_format":"persistent""#));
    for (given, choice) in [
        ("email", NameIdChoice::Email),
        ("unspecified", NameIdChoice::Unspecified),
        ("persistent", NameIdChoice::Persistent),
    ] {
        let (_, config) = spec(serde_json::json!({ "name_id_format": given }));
        assert_eq!(config.name_id(), choice, "{given}");
    }
    assert!(ProviderSpec::from_json(serde_json::json!({
        "id": "corp", "kind": "saml", "idp_metadata_url": "https://idp.example.test/metadata",
        "name_id_format": "transient",
    }))
    .is_err());
    // A record written before the setting existed.
    let mut old = stored.clone();
    old.config_json = old
        .config_json
        .replace(r#","name_id_format":"persistent""#, "");
    assert!(
        !old.config_json.contains("name_id_format"),
        "{}",
        old.config_json
    );
    match ProviderConfig::of(&old).expect("old record") {
        ProviderConfig::Saml(config) => assert_eq!(config.name_id(), NameIdChoice::Unspecified),
        other => panic!("not SAML: {other:?}"),
    }
}

/// RSA-SHA1 is refused, and the refusal names what to configure instead.
#[tokio::test]
async fn a_response_signed_with_rsa_sha1_is_refused_naming_rsa_sha256() {
    let f = Fixture::start();
    for sign in ["assertion", "response"] {
        f.set_knobs(&[("sign", sign), ("alg", "sha1")]).await;
        let (request_id, response) = f.login().await;
        let xml = String::from_utf8(BASE64.decode(&response).expect("base64")).expect("utf-8");
        assert!(
            xml.contains("xmldsig#rsa-sha1"),
            "the fixture signed with SHA-1"
        );
        match f.verify(&response, &request_id).await {
            Err(UpstreamError::Misconfigured(reason)) => {
                assert!(reason.contains("RSA-SHA1"), "{sign}: {reason}");
                assert!(reason.contains("RSA-SHA256"), "{sign}: {reason}");
            }
            other => panic!("{sign}: expected Misconfigured, got {other:?}"),
        }
    }
    // The same IdP signing with RSA-SHA256 is accepted.
    f.set_knobs(&[("sign", "assertion"), ("alg", "sha256")])
        .await;
    f.alice_verifies("RSA-SHA256 again").await;
}

#[tokio::test]
async fn the_subject_can_come_from_an_attribute() {
    let mut f = Fixture::start();
    f.set_mode("normal", "assertion", "persistent").await;
    f.config.attributes = SamlAttributes {
        subject: Some("email".into()),
        email: "email".into(),
        name: "displayName".into(),
        groups: "groups".into(),
    };
    let (request_id, response) = f.login_as("bob", "bob-password").await;
    let verified = f.verify(&response, &request_id).await.expect("verified");
    assert_eq!(verified.identity.subject, "bob@example.test");
    assert_eq!(verified.identity.groups, vec!["engineers".to_string()]);

    f.config.attributes.subject = Some("no-such-attribute".into());
    let (request_id, response) = f.login_as("bob", "bob-password").await;
    let reason = invalid(f.verify(&response, &request_id).await);
    assert!(reason.contains("no-such-attribute"));
}

#[tokio::test]
async fn wrong_key_is_refused() {
    Fixture::start()
        .refused(
            "wrong_key",
            "signature does not verify against the IdP's certificate",
        )
        .await;
}

#[tokio::test]
async fn unsigned_is_refused() {
    Fixture::start().refused("unsigned", "not signed").await;
}

#[tokio::test]
async fn expired_is_refused() {
    Fixture::start().refused("expired", "has expired").await;
}

#[tokio::test]
async fn not_yet_valid_is_refused() {
    Fixture::start()
        .refused("not_yet_valid", "not yet valid")
        .await;
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    Fixture::start()
        .refused("wrong_audience", "for another audience")
        .await;
}

#[tokio::test]
async fn wrong_recipient_is_refused() {
    Fixture::start()
        .refused("wrong_recipient", "Recipient")
        .await;
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    Fixture::start()
        .refused("wrong_issuer", "issuer is not the identity provider")
        .await;
}

#[tokio::test]
async fn tampered_is_refused() {
    Fixture::start()
        .refused(
            "tampered",
            "signature does not verify against the IdP's certificate",
        )
        .await;
}

#[tokio::test]
async fn cancel_is_denied() {
    let f = Fixture::start();
    let (request_id, token) = f.begin().await;
    let (response, relay) = f.submit(&token, "", "", "cancel").await;
    assert_eq!(relay, RELAY_STATE);
    match f.verify(&response, &request_id).await {
        Err(UpstreamError::Denied(reason)) => {
            assert!(reason.contains("AuthnFailed"), "{reason}");
            assert!(reason.contains("cancelled"), "{reason}");
        }
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[tokio::test]
async fn another_request_id_is_refused() {
    let f = Fixture::start();
    let (_, response) = f.login().await;
    let reason = invalid(f.verify(&response, "_some-other-request").await);
    assert!(reason.contains("InResponseTo"), "{reason}");
    invalid(f.verify(&response, "").await);
}

#[tokio::test]
async fn a_response_verified_later_has_expired() {
    let f = Fixture::start();
    let (request_id, response) = f.login().await;
    // Within the skew it still verifies; far later it has expired.
    let now = unix_now();
    f.verify_at(&response, &request_id, now + 300 + 30)
        .await
        .expect("within NotOnOrAfter + skew");
    let reason = invalid(f.verify_at(&response, &request_id, now + 3600).await);
    assert!(reason.contains("expired"), "{reason}");
    // And long before, it is not yet valid.
    let reason = invalid(f.verify_at(&response, &request_id, now - 3600).await);
    assert!(reason.contains("not yet valid"), "{reason}");
}

#[tokio::test]
async fn the_same_response_verifies_twice() {
    // Replay is refused by the caller (the replay cache in the replicated state, keyed by
    // assertion_id until expires_at), not by this module.
    let f = Fixture::start();
    let (request_id, response) = f.login().await;
    let first = f.verify(&response, &request_id).await.expect("first");
    let second = f.verify(&response, &request_id).await.expect("second");
    assert_eq!(first, second);
}

#[tokio::test]
async fn metadata_given_inline_works() {
    let mut f = Fixture::start();
    let xml = f.idp_metadata().await;
    f.config.idp_metadata_url = None;
    f.config.idp_metadata_xml = Some(xml);
    f.provider = provider(&f.config, 2);
    f.alice_verifies("verified").await;
}

#[tokio::test]
async fn metadata_without_a_signing_certificate_is_refused() {
    let f = Fixture::start();
    let xml = f.idp_metadata().await;
    let start = xml.find("<ns0:KeyDescriptor").expect("KeyDescriptor");
    let end =
        xml.find("</ns0:KeyDescriptor>").expect("KeyDescriptor end") + "</ns0:KeyDescriptor>".len();
    let config = SamlConfig {
        idp_metadata_url: None,
        idp_metadata_xml: Some(format!("{}{}", &xml[..start], &xml[end..])),
        ..f.config.clone()
    };
    let saml = SamlSp::new(outbound());
    match saml
        .login_redirect(&provider(&config, 1), &config, &f.sp, RELAY_STATE)
        .await
    {
        Err(UpstreamError::Misconfigured(reason)) => {
            assert!(reason.contains("no signing certificate"), "{reason}")
        }
        other => panic!("expected Misconfigured, got {other:?}"),
    }
    // Not SAML metadata at all.
    let config = SamlConfig {
        idp_metadata_xml: Some("<EntityDescriptor".into()),
        ..config
    };
    assert!(matches!(
        saml.login_redirect(&provider(&config, 1), &config, &f.sp, RELAY_STATE)
            .await,
        Err(UpstreamError::Misconfigured(_))
    ));
}

#[tokio::test]
async fn an_unreachable_idp_is_unavailable() {
    let port = free_port();
    let config = SamlConfig {
        idp_metadata_url: Some(format!("http://127.0.0.1:{port}/metadata")),
        idp_metadata_xml: None,
        sp_entity_id: None,
        attributes: SamlAttributes::default(),
        clock_skew_secs: 60,
        name_id_format: None,
    };
    let saml = SamlSp::new(outbound());
    let sp = sp_info(NameIdChoice::Unspecified);
    let provider = provider(&config, 1);
    match saml
        .login_redirect(&provider, &config, &sp, RELAY_STATE)
        .await
    {
        Err(UpstreamError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match saml
        .verify(&provider, &config, &sp, "PHg+", "_id", unix_now())
        .await
    {
        Err(UpstreamError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Plain http is refused off loopback.
    let config = SamlConfig {
        idp_metadata_url: Some("http://idp.example.test/metadata".into()),
        ..config
    };
    assert!(matches!(
        saml.login_redirect(&provider, &config, &sp, RELAY_STATE)
            .await,
        Err(UpstreamError::Misconfigured(_))
    ));
}

#[tokio::test]
async fn metadata_is_cached_per_provider_configuration() {
    // Every metadata copy is due for a refresh at once, and kept when the IdP is unreachable.
    let mut f = Fixture::start_with(MetadataTiming {
        max_age: Duration::ZERO,
        ..MetadataTiming::default()
    });
    let (request_id, response) = f.login().await;
    f.idp.stop();
    // The IdP's metadata URL is down: the copy fetched earlier still serves...
    let verified = f
        .verify(&response, &request_id)
        .await
        .expect("stale metadata");
    assert_alice(&verified, unix_now());
    // ...but not for a changed provider configuration.
    f.provider.updated_at += 1;
    match f.verify(&response, &request_id).await {
        Err(UpstreamError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rotated_idp_certificate_is_fetched_again() {
    let mut f = Fixture::start_with(MetadataTiming {
        refetch_min_interval: Duration::ZERO,
        ..MetadataTiming::default()
    });
    f.login().await; // metadata cached
    f.restart_idp(); // new signing key, same URL
    f.alice_verifies("refetched metadata").await;
}

#[tokio::test]
async fn metadata_refetches_after_signature_failures_are_rate_limited() {
    let mut f = Fixture::start(); // refetch at most once a minute
    f.login().await; // metadata cached just now
    f.restart_idp();
    f.login_refused("signature does not verify").await;
}

fn decode(response: &str) -> String {
    String::from_utf8(BASE64.decode(response).expect("base64")).expect("UTF-8")
}

fn encode(xml: &str) -> String {
    BASE64.encode(xml)
}

/// A forged copy of the signed assertion: another ID and person, no signature.
fn forged_assertion(xml: &str) -> String {
    let start = xml.find("<ns1:Assertion ").expect("assertion");
    let end = xml.find("</ns1:Assertion>").expect("assertion end") + "</ns1:Assertion>".len();
    let mut forged = xml[start..end].to_owned();
    let sig_start = forged.find("<ns2:Signature").expect("assertion signature");
    let sig_end =
        forged.find("</ns2:Signature>").expect("signature end") + "</ns2:Signature>".len();
    forged.replace_range(sig_start..sig_end, "");
    let id_at = forged.find(" ID=\"").expect("ID") + 5;
    forged.insert_str(id_at, "forged-");
    forged.replace("alice@example.test", "mallory@example.test")
}

#[tokio::test]
async fn signature_wrapping_is_refused() {
    let f = Fixture::start();
    let (request_id, response) = f.login().await;
    let xml = decode(&response);
    let forged = forged_assertion(&xml);
    let assertion_at = xml.find("<ns1:Assertion ").expect("assertion");
    let end_at = xml.find("</ns0:Response>").expect("response end");
    // A forged assertion before the signed one, after it, or inside its SubjectConfirmationData.
    let before = format!("{}{forged}{}", &xml[..assertion_at], &xml[assertion_at..]);
    let after = format!("{}{forged}{}", &xml[..end_at], &xml[end_at..]);
    let scd_end = xml
        .find("/></ns1:SubjectConfirmation>")
        .expect("SubjectConfirmationData");
    let nested = format!(
        "{}>{forged}</ns1:SubjectConfirmationData></ns1:SubjectConfirmation>{}",
        &xml[..scd_end],
        &xml[scd_end + "/></ns1:SubjectConfirmation>".len()..]
    );
    for (what, doc) in [("before", before), ("after", after), ("nested", nested)] {
        match f.verify(&encode(&doc), &request_id).await {
            Err(UpstreamError::Invalid(reason)) => eprintln!("wrapped {what}: {reason}"),
            other => panic!("wrapped {what}: expected Invalid, got {other:?}"),
        }
    }
    // The untouched response still verifies.
    f.verify(&response, &request_id).await.expect("original");
}

#[tokio::test]
async fn the_unsigned_response_envelope_is_checked_too() {
    // sign=assertion: the Response element around the signed assertion is not signed, yet its
    // Issuer, Destination and InResponseTo must be right.
    let f = Fixture::start();
    let (request_id, response) = f.login().await;
    let xml = decode(&response);
    let idp_entity = format!("{}/metadata", f.idp.base());
    let cases = [
        (
            "Response Issuer",
            xml.replacen(
                &format!(">{idp_entity}<"),
                ">https://evil.example.test/<",
                1,
            ),
            "response's issuer",
        ),
        (
            "Destination",
            xml.replacen(
                &format!(r#"Destination="{}""#, f.sp.acs_url),
                r#"Destination="https://evil.example.test/acs""#,
                1,
            ),
            "Destination",
        ),
        (
            "InResponseTo",
            xml.replacen(
                &format!(r#"InResponseTo="{request_id}""#),
                r#"InResponseTo="_other""#,
                1,
            ),
            "InResponseTo",
        ),
    ];
    for (what, doc, words) in cases {
        assert_ne!(doc, xml, "{what} not found in the response");
        match f.verify(&encode(&doc), &request_id).await {
            Err(UpstreamError::Invalid(reason)) => {
                assert!(reason.contains(words), "{what}: {reason}")
            }
            other => panic!("{what}: expected Invalid, got {other:?}"),
        }
    }
    // Destination is optional on an unsigned Response.
    let without = xml.replacen(&format!(r#" Destination="{}""#, f.sp.acs_url), "", 1);
    assert_ne!(without, xml);
    f.verify(&encode(&without), &request_id)
        .await
        .expect("no Destination on an unsigned Response");
}

#[tokio::test]
async fn a_tampered_signed_response_is_refused() {
    let f = Fixture::start();
    f.set_mode("tampered", "response", "email").await;
    f.login_refused("signature does not verify").await;
}

#[tokio::test]
async fn a_comment_inside_a_signed_value_does_not_truncate_it() {
    // Exclusive c14n drops comments, so the signature still verifies; the value must be read
    // whole (the 2018 "comment truncation" attack read only the text before the comment).
    let f = Fixture::start();
    let (request_id, response) = f.login().await;
    let xml =
        decode(&response).replacen(">alice@example.test<", ">alice@<!-- x -->example.test<", 2);
    let verified = f
        .verify(&encode(&xml), &request_id)
        .await
        .expect("comments are outside the signature");
    assert_eq!(verified.identity, alice());
}

#[tokio::test]
async fn relay_state_is_bounded() {
    let f = Fixture::start();
    let long = "x".repeat(81);
    match f
        .saml
        .login_redirect(&f.provider, &f.config, &f.sp, &long)
        .await
    {
        Err(UpstreamError::Misconfigured(reason)) => assert!(reason.contains("80"), "{reason}"),
        other => panic!("expected Misconfigured, got {other:?}"),
    }
}

#[test]
fn sp_metadata_is_escaped() {
    let sp = SpInfo {
        entity_id: "https://auth.example.test/saml/a?b=1&c=<2>".into(),
        acs_url: "https://auth.example.test/saml/a/acs?x=\"1\"&y=2".into(),
        name_id_format: NameIdChoice::Persistent,
    };
    let xml = sp_metadata(&sp);
    assert!(
        xml.contains(r#"entityID="https://auth.example.test/saml/a?b=1&amp;c=&lt;2&gt;""#),
        "{xml}"
    );
    assert!(xml.contains("x=&quot;1&quot;&amp;y=2"), "{xml}");
    assert!(xml.contains(r#"WantAssertionsSigned="true""#), "{xml}");
    assert!(xml.contains(r#"AuthnRequestsSigned="false""#), "{xml}");
    assert!(
        xml.contains("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"),
        "{xml}"
    );
    assert!(xml.contains(PERSISTENT_FORMAT), "{xml}");
    assert!(!xml.contains(UNSPECIFIED_FORMAT), "{xml}");
    // Not URLs: written without saml-rs, escaped all the same.
    let odd = sp_metadata(&SpInfo {
        entity_id: "urn:example:<sp>".into(),
        acs_url: "not a url & more".into(),
        name_id_format: NameIdChoice::Email,
    });
    assert!(
        odd.contains(r#"entityID="urn:example:&lt;sp&gt;""#),
        "{odd}"
    );
    assert!(odd.contains(r#"Location="not a url &amp; more""#), "{odd}");
    assert!(odd.contains(EMAIL_FORMAT), "{odd}");
}
