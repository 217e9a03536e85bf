//! LDAP login (`mcpauth_federation::ldap::authenticate`) against a real OpenLDAP slapd: the
//! fixture in `tests/idp/ldap` (installed by its `install.sh`, one private slapd per test on
//! free loopback ports, killed when the test ends).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcpauth_crypto::Sealer;
use mcpauth_federation::config::{LdapConfigSpec, ProviderSpec};
use mcpauth_federation::ldap::authenticate;
use mcpauth_federation::{Identity, OutboundLimits, Upstream, UpstreamError, Upstreams};
use mcpauth_tests::free_port;
use mcpauth_tests::idp::{fixture, install, temp_dir, Process};
use serde_json::json;

const SERVICE_DN: &str = "cn=mcpauth,ou=services,dc=example,dc=test";
const SERVICE_PASSWORD: &str = "service-secret";

/// A port nothing listens on.
fn closed_port() -> u16 {
    free_port()
}

/// A running fixture slapd: `ldap://127.0.0.1:{port}` (StartTLS) and
/// `ldaps://127.0.0.1:{tls_port}`.
struct Slapd {
    process: Process,
    dir: PathBuf,
    port: u16,
    tls_port: u16,
    ca_pem: String,
}

impl Slapd {
    fn start() -> Self {
        install("ldap");
        let started = Instant::now();
        // Ports are picked free but may be taken before slapd binds them: retry.
        for _ in 0..3 {
            let dir = temp_dir("ldap-test-slapd");
            let (port, tls_port) = (free_port(), free_port());
            // slapd's banner and errors go to a file, shown if it does not start.
            let stderr_path = dir.join("slapd.stderr");
            let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
            let mut command = Command::new("bash");
            command
                .arg(fixture("ldap").join("run"))
                .arg("--dir")
                .arg(&dir)
                .args([
                    "--port",
                    &port.to_string(),
                    "--tls-port",
                    &tls_port.to_string(),
                ])
                .stdin(Stdio::null())
                .stderr(stderr);
            // `run` prints READY, or exits (never printing it) within its READY_TIMEOUT.
            match Process::start(&mut command, Duration::from_secs(60)) {
                Ok(process) => {
                    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem");
                    eprintln!("ldap fixture ready in {:?}", started.elapsed());
                    return Slapd {
                        process,
                        dir,
                        port,
                        tls_port,
                        ca_pem,
                    };
                }
                Err(why) => {
                    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    eprintln!("tests/idp/ldap/run did not print READY ({why}); its stderr:\n{log}");
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        panic!("tests/idp/ldap/run did not print READY three times (stderr above)");
    }

    fn starttls(&self) -> LdapConfigSpec {
        config(json!({
            "url": format!("ldap://127.0.0.1:{}", self.port),
            "starttls": true,
            "ca_pem": self.ca_pem,
        }))
    }

    fn ldaps(&self) -> LdapConfigSpec {
        config(json!({
            "url": format!("ldaps://127.0.0.1:{}", self.tls_port),
            "ca_pem": self.ca_pem,
        }))
    }

    fn plain(&self) -> LdapConfigSpec {
        config(json!({ "url": format!("ldap://127.0.0.1:{}", self.port) }))
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.process.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A configuration for the fixture directory: the service account searches, groups by search
/// under ou=groups. `fields` adds or overrides (`null` removes).
fn config(fields: serde_json::Value) -> LdapConfigSpec {
    let mut value = json!({
        "bind_dn": SERVICE_DN,
        "user_base": "ou=people,dc=example,dc=test",
        "group_base": "ou=groups,dc=example,dc=test",
        "group_filter": "(&(objectClass=groupOfNames)(member={dn}))",
    });
    for (key, field) in fields.as_object().expect("object").clone() {
        if field.is_null() {
            value.as_object_mut().expect("object").remove(&key);
        } else {
            value[key] = field;
        }
    }
    serde_json::from_value(value).expect("LdapConfigSpec")
}

/// `config` reading groups from memberOf instead of searching.
fn member_of(mut config: LdapConfigSpec) -> LdapConfigSpec {
    config.member_of_attribute = Some("memberOf".into());
    config.group_base = None;
    config
}

fn limits() -> OutboundLimits {
    OutboundLimits {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ..OutboundLimits::default()
    }
}

async fn login(
    config: &LdapConfigSpec,
    username: &str,
    password: &str,
) -> Result<Identity, UpstreamError> {
    authenticate(config, Some(SERVICE_PASSWORD), username, password, limits()).await
}

fn alice() -> Identity {
    Identity {
        subject: "alice".into(),
        username: Some("alice".into()),
        email: Some("alice@example.test".into()),
        name: Some("Alice Liddell".into()),
        groups: vec!["admins".into(), "engineers".into()],
    }
}

fn unavailable(result: Result<Identity, UpstreamError>) -> String {
    match result {
        Err(UpstreamError::Unavailable(reason)) => reason,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

fn misconfigured(result: Result<Identity, UpstreamError>) -> String {
    match result {
        Err(UpstreamError::Misconfigured(reason)) => reason,
        other => panic!("expected Misconfigured, got {other:?}"),
    }
}

#[tokio::test]
async fn alice_over_starttls_with_group_search() {
    let slapd = Slapd::start();
    assert_eq!(
        login(&slapd.starttls(), "alice", "alice-password").await,
        Ok(alice())
    );
}

#[tokio::test]
async fn alice_over_ldaps_with_member_of() {
    let slapd = Slapd::start();
    assert_eq!(
        login(&member_of(slapd.ldaps()), "alice", "alice-password").await,
        Ok(alice())
    );
}

#[tokio::test]
async fn bob_is_an_engineer_both_ways() {
    let slapd = Slapd::start();
    for config in [slapd.starttls(), member_of(slapd.ldaps())] {
        let bob = login(&config, "bob", "bob-password").await.expect("bob");
        assert_eq!(bob.subject, "bob");
        assert_eq!(bob.email.as_deref(), Some("bob@example.test"));
        assert_eq!(bob.name.as_deref(), Some("Bob Builder"));
        assert_eq!(bob.groups, vec!["engineers".to_owned()]);
    }
}

#[tokio::test]
async fn carol_has_no_groups() {
    let slapd = Slapd::start();
    for config in [slapd.ldaps(), member_of(slapd.starttls())] {
        let carol = login(&config, "carol", "carol-password")
            .await
            .expect("carol");
        assert_eq!(carol.subject, "carol");
        assert_eq!(carol.email.as_deref(), Some("carol@example.test"));
        assert!(carol.groups.is_empty(), "{:?}", carol.groups);
    }
}

#[tokio::test]
async fn a_user_without_mail_has_no_email() {
    let slapd = Slapd::start();
    let nomail = login(&slapd.ldaps(), "nomail", "nomail-password")
        .await
        .expect("nomail");
    assert_eq!(nomail.subject, "nomail");
    assert_eq!(nomail.email, None);
    assert_eq!(nomail.name.as_deref(), Some("No Mail"));
    assert!(nomail.groups.is_empty());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_the_same_bad_credentials() {
    let slapd = Slapd::start();
    let config = slapd.starttls();
    assert_eq!(
        login(&config, "alice", "bob-password").await,
        Err(UpstreamError::BadCredentials)
    );
    assert_eq!(
        login(&config, "mallory", "alice-password").await,
        Err(UpstreamError::BadCredentials)
    );
}

#[tokio::test]
async fn hopeless_credentials_are_refused_without_contacting_the_directory() {
    // Nothing listens there: any network IO would give Unavailable.
    let config = config(json!({
        "url": format!("ldap://127.0.0.1:{}", closed_port()),
    }));
    let long_name = "a".repeat(257);
    for (username, password) in [
        ("alice", ""),
        ("alice", "alice\0password"),
        ("", "alice-password"),
        (long_name.as_str(), "alice-password"),
    ] {
        assert_eq!(
            login(&config, username, password).await,
            Err(UpstreamError::BadCredentials),
            "{username:?} / {password:?}"
        );
    }
}

#[tokio::test]
async fn usernames_cannot_inject_filters() {
    let slapd = Slapd::start();
    let config = slapd.starttls();
    // Unescaped, each of these would find alice (or several people) and bind with her password.
    for username in [
        "*",
        "al*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice)",
        "alice\\2a",
    ] {
        assert_eq!(
            login(&config, username, "alice-password").await,
            Err(UpstreamError::BadCredentials),
            "{username:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_service_password_is_a_misconfiguration() {
    let slapd = Slapd::start();
    let result = authenticate(
        &slapd.starttls(),
        Some("not-the-service-secret"),
        "alice",
        "alice-password",
        limits(),
    )
    .await;
    let reason = misconfigured(result);
    assert!(reason.contains("service account"), "{reason}");
    assert!(!reason.contains("not-the-service-secret") && !reason.contains("alice-password"));
}

#[tokio::test]
async fn a_service_account_without_password_is_refused_before_binding() {
    let config = config(json!({
        "url": format!("ldap://127.0.0.1:{}", closed_port()),
    }));
    let result = authenticate(&config, None, "alice", "alice-password", limits()).await;
    let reason = misconfigured(result);
    assert!(reason.contains("no password"), "{reason}");
}

#[tokio::test]
async fn an_anonymous_search_the_directory_refuses_is_a_misconfiguration() {
    // The fixture lets anonymous clients see nothing (noSuchObject).
    let slapd = Slapd::start();
    let mut config = slapd.ldaps();
    config.bind_dn = None;
    let reason =
        misconfigured(authenticate(&config, None, "alice", "alice-password", limits()).await);
    assert!(reason.contains("user_base"), "{reason}");
}

#[tokio::test]
async fn a_filter_matching_several_people_is_a_misconfiguration() {
    let slapd = Slapd::start();
    let mut config = slapd.ldaps();
    config.user_filter = "(|(uid={username})(objectClass=inetOrgPerson))".into();
    assert_eq!(
        misconfigured(login(&config, "alice", "alice-password").await),
        "the user filter matched several entries"
    );
}

#[tokio::test]
async fn a_missing_subject_attribute_is_a_misconfiguration() {
    let slapd = Slapd::start();
    let mut config = slapd.ldaps();
    config.subject_attribute = "employeeNumber".into();
    let reason = misconfigured(login(&config, "alice", "alice-password").await);
    assert!(reason.contains("employeeNumber"), "{reason}");
    // ...but only once the password checked out.
    assert_eq!(
        login(&config, "alice", "wrong").await,
        Err(UpstreamError::BadCredentials)
    );
}

#[tokio::test]
async fn a_directory_that_is_down_is_unavailable() {
    let port = closed_port();
    // Any well-formed CA: the connection fails before TLS starts.
    let ca_pem = bogus_ca_pem();
    for (url, starttls, ca) in [
        (format!("ldap://127.0.0.1:{port}"), false, None),
        (format!("ldap://127.0.0.1:{port}"), true, Some(&ca_pem)),
        (format!("ldaps://127.0.0.1:{port}"), false, Some(&ca_pem)),
    ] {
        let config = config(json!({ "url": url, "starttls": starttls, "ca_pem": ca }));
        let reason = unavailable(login(&config, "alice", "alice-password").await);
        assert!(
            reason.contains("directory unreachable (connection refused)"),
            "{url}: {reason}"
        );
        assert!(!reason.contains("alice-password") && !reason.contains(SERVICE_PASSWORD));
    }
}

#[tokio::test]
async fn a_directory_that_does_not_answer_times_out() {
    // Accepts connections (the kernel does, from the backlog) and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let ca_pem = bogus_ca_pem();
    let short = OutboundLimits {
        connect_timeout: Duration::from_millis(300),
        read_timeout: Duration::from_millis(300),
        ..OutboundLimits::default()
    };
    for (url, ca) in [
        (format!("ldaps://127.0.0.1:{port}"), Some(ca_pem.clone())),
        (format!("ldap://127.0.0.1:{port}"), None),
    ] {
        let config = config(json!({ "url": url, "ca_pem": ca }));
        let started = Instant::now();
        let result = authenticate(
            &config,
            Some(SERVICE_PASSWORD),
            "alice",
            "alice-password",
            short,
        )
        .await;
        let reason = unavailable(result);
        assert!(reason.contains("no answer in time"), "{reason}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{url}: {:?}",
            started.elapsed()
        );
    }
    drop(silent);
}

/// A throwaway CA that signed nothing the fixture serves.
fn bogus_ca_pem() -> String {
    let dir = temp_dir("ldap-test-bogus-ca");
    let status = Command::new("openssl")
        .args(["req", "-x509", "-new", "-nodes", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", "1"])
        .args(["-subj", "/CN=not the mcpauth test LDAP CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .arg("-keyout")
        .arg(dir.join("ca.key"))
        .arg("-out")
        .arg(dir.join("ca.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl req failed");
    let pem = std::fs::read_to_string(dir.join("ca.pem")).expect("bogus ca.pem");
    let _ = std::fs::remove_dir_all(&dir);
    pem
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_not_trusted() {
    let slapd = Slapd::start();
    let other_ca = bogus_ca_pem();
    for mut config in [slapd.ldaps(), slapd.starttls()] {
        config.ca_pem = Some(other_ca.clone());
        let reason = unavailable(login(&config, "alice", "alice-password").await);
        assert!(reason.contains("certificate is not trusted"), "{reason}");
    }
}

#[tokio::test]
async fn without_ca_pem_the_system_trust_store_decides() {
    // The fixture's throwaway CA is not in the system store: the directory is not trusted.
    let slapd = Slapd::start();
    for mut config in [slapd.ldaps(), slapd.starttls()] {
        config.ca_pem = None;
        let reason = unavailable(login(&config, "alice", "alice-password").await);
        assert!(reason.contains("certificate is not trusted"), "{reason}");
    }
}

#[tokio::test]
async fn plain_ldap_on_loopback_works() {
    let slapd = Slapd::start();
    assert_eq!(
        login(&slapd.plain(), "alice", "alice-password").await,
        Ok(alice())
    );
}

/// As an operator configures it (validated, stored, sealed) and the login page uses it (the
/// facade): `ldap://127.0.0.1` without TLS is accepted because it is loopback, and works;
/// the same without TLS on another address is refused before anything is stored.
#[tokio::test]
async fn plain_ldap_on_a_loopback_address_passes_validation_and_signs_in() {
    let slapd = Slapd::start();
    let sealer = Sealer::new(&[9u8; 32]).expect("sealer");
    let spec = |url: String| {
        let mut fields = serde_json::to_value(slapd.plain()).expect("json");
        fields["url"] = json!(url);
        fields["bind_password"] = json!(SERVICE_PASSWORD);
        fields["id"] = json!("directory");
        fields["kind"] = json!("ldap");
        ProviderSpec::from_json(fields).expect("spec")
    };
    let stored = spec(format!("ldap://127.0.0.1:{}", slapd.port))
        .into_stored(&sealer, 1)
        .expect("plain ldap on 127.0.0.1 is loopback");
    let upstreams = Upstreams::new(limits(), sealer.clone(), "http://127.0.0.1:9").expect("client");
    let upstream = Upstream::of(stored).expect("stored config");
    assert!(upstream.takes_password());
    assert_eq!(
        upstreams
            .password_login(&upstream, "alice", "alice-password")
            .await,
        Ok(alice())
    );
    assert_eq!(
        upstreams.password_login(&upstream, "alice", "wrong").await,
        Err(UpstreamError::BadCredentials)
    );
    let refused = spec(format!("ldap://10.1.2.3:{}", slapd.port))
        .into_stored(&sealer, 1)
        .expect_err("plain ldap off loopback");
    assert!(
        refused.to_string().contains("sends passwords in clear"),
        "{refused}"
    );
}
