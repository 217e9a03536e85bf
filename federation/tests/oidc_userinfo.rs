//! OpenID Connect sign-in through the facade against oidc-provider as it ships
//! (`--id-token-claims conform`: with an access token issued, the ID token carries only `sub`
//! and the profile claims come from the UserInfo endpoint alone), and the refusal of a
//! UserInfo answer about someone else.

use mcpauth_crypto::Sealer;
use mcpauth_federation::config::ProviderSpec;
use mcpauth_federation::{
    Answer, Begin, Finished, OutboundLimits, Upstream, UpstreamError, Upstreams,
};
use mcpauth_tests::idp::{self, Idp};
use mcpauth_tests::{query_of, Browser};

/// Our issuer in these tests: nothing listens there, the browser stops at the callback.
const ISSUER: &str = "http://127.0.0.1:9";

fn provider_as_shipped() -> Idp {
    idp::install("oidc");
    idp::oidc_provider_with(
        &[format!("{ISSUER}/login/sso/callback")],
        &["--id-token-claims", "conform"],
    )
}

fn setup(upstream: &Idp) -> (Upstreams, Upstream) {
    let sealer = Sealer::new(&[5u8; 32]).expect("sealer");
    let spec = ProviderSpec::from_json(idp::oidc_provider_config(upstream, "sso")).expect("spec");
    let record = spec.into_stored(&sealer, 1).expect("valid provider");
    let upstreams =
        Upstreams::new(OutboundLimits::default(), sealer, ISSUER).expect("outbound client");
    (upstreams, Upstream::of(record).expect("stored config"))
}

/// Begin a login, sign in at the provider's pages as `user`, and finish it.
async fn sign_in(
    upstreams: &Upstreams,
    upstream: &Upstream,
    user: &str,
) -> Result<Finished, UpstreamError> {
    let Begin::Redirect {
        location, state, ..
    } = upstreams.begin_login(upstream).await.expect("begin")
    else {
        panic!("an OpenID provider redirects");
    };
    let browser = Browser::new();
    let callback = idp::oidc_sign_in(&browser, &location, user, &format!("{user}-password")).await;
    assert!(
        callback.starts_with(&upstreams.callback_uri("sso")),
        "{callback}"
    );
    let query = query_of(&callback);
    assert_eq!(query.get("state"), Some(&state));
    upstreams
        .finish_login(
            upstream,
            Answer::Redirect {
                state: &state,
                code: query.get("code").map(String::as_str),
                error: query.get("error").map(String::as_str),
                error_description: None,
                iss: query.get("iss").map(String::as_str),
            },
        )
        .await
}

#[tokio::test]
async fn profile_claims_only_in_userinfo_still_reach_the_identity() {
    let upstream = provider_as_shipped();
    let (upstreams, provider) = setup(&upstream);
    let finished = sign_in(&upstreams, &provider, "alice")
        .await
        .expect("signed in");
    let identity = finished.identity;
    assert_eq!(identity.subject, "u-alice");
    assert_eq!(identity.email.as_deref(), Some("alice@example.test"));
    assert_eq!(identity.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(identity.username.as_deref(), Some("alice"));
    let mut groups = identity.groups;
    groups.sort();
    assert_eq!(groups, ["admins", "engineers"]);
    assert_eq!(finished.assertion, None);

    // Carol has no groups: her login reads UserInfo too and still succeeds, without groups.
    let carol = sign_in(&upstreams, &provider, "carol")
        .await
        .expect("signed in")
        .identity;
    assert_eq!(carol.email.as_deref(), Some("carol@example.test"));
    assert!(carol.groups.is_empty());
}

#[tokio::test]
async fn a_userinfo_answer_about_someone_else_refuses_the_login() {
    let upstream = provider_as_shipped();
    let (upstreams, provider) = setup(&upstream);
    idp::set_oidc_mode(&upstream, "userinfo_wrong_sub").await;
    match sign_in(&upstreams, &provider, "bob").await {
        Err(UpstreamError::Invalid(reason)) => {
            assert!(reason.contains("someone else"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same login with an honest provider goes through: the refusal was the sub.
    idp::set_oidc_mode(&upstream, "normal").await;
    let bob = sign_in(&upstreams, &provider, "bob")
        .await
        .expect("signed in");
    assert_eq!(bob.identity.email.as_deref(), Some("bob@example.test"));
}
