//! The cluster version in apply(): raised by `SetClusterVersion` only, and the rules format 3
//! brings (the identity-provider check judged in apply(), claims in `Outcome::Granted`), while
//! a cluster still at version 2 keeps 0.1's rules. Time pinned; no clock, no randomness.

use mcpauth_state::{
    grant, AuthCode, Claims, Client, ClientMetadata, Command, Digest, IdentityProvider, Outcome,
    Profile, Refusal, Session, State, UnixTime,
};

const T0: UnixTime = 1_700_000_000;
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1/callback";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const SUBJECT: &str = "sso:bob";

fn provider(enabled: bool) -> Command {
    Command::PutIdentityProvider {
        provider: IdentityProvider {
            id: "sso".into(),
            kind: "oidc".into(),
            display_name: "SSO".into(),
            enabled,
            config_json: "{}".into(),
            sealed_secret: None,
            updated_at: T0,
        },
    }
}

fn code(digest: Digest, subject: &str) -> Command {
    Command::IssueCode {
        code: AuthCode {
            digest,
            grant: grant("client-a", subject, "mcp", RESOURCE, T0),
            redirect_uri: REDIRECT.into(),
            code_challenge: CHALLENGE.into(),
            expires_at: T0 + 60,
            redeemed_into: None,
        },
    }
}

fn redeem(digest: Digest, refresh: Digest) -> Command {
    Command::RedeemCode {
        digest,
        client_id: "client-a".into(),
        redirect_uri: REDIRECT.into(),
        verifier_challenge: CHALLENGE.into(),
        resource: None,
        now: T0 + 1,
        refresh_digest: refresh,
        refresh_idle_expires_at: T0 + 3_600,
    }
}

fn rotate(presented: Digest, next: Digest) -> Command {
    Command::RotateRefresh {
        presented,
        client_id: "client-a".into(),
        resource: None,
        scope: None,
        next,
        now: T0 + 2,
        idle_expires_at: T0 + 3_600,
        reuse: mcpauth_state::RefreshReuse::Strict,
    }
}

/// A state with a client, the `sso` provider on, and bob signed in through it, at `version`.
fn state_at(version: u32) -> State {
    let mut state = State::default();
    let setup = [
        Command::SetClusterVersion { version },
        Command::RegisterClient {
            client: Client {
                disabled: false,
                last_used_at: None,
                client_id: "client-a".into(),
                secret_digest: None,
                metadata: ClientMetadata {
                    redirect_uris: vec![REDIRECT.into()],
                    token_endpoint_auth_method: "none".into(),
                    ..ClientMetadata::default()
                },
                issued_at: T0,
                first_login_at: None,
                registration_token_digest: None,
                origin: mcpauth_state::ClientOrigin::Registered,
            },
        },
        provider(true),
        Command::CreateFederatedSession {
            session: Session {
                identity_provider: None,
                source: None,
                id_digest: [70; 32],
                subject: SUBJECT.into(),
                username: "bob".into(),
                created_at: T0,
                expires_at: T0 + 86_400,
            },
            profile: Profile {
                subject: SUBJECT.into(),
                provider_id: "sso".into(),
                email: Some("bob@example.com".into()),
                name: Some("Bob".into()),
                groups: vec!["staff".into()],
                updated_at: T0,
            },
            replaces: None,
        },
    ];
    for command in setup {
        assert_eq!(state.apply(&command), Outcome::Done, "{}", command.kind());
    }
    state
}

fn bobs_claims() -> Claims {
    Claims {
        email: Some("bob@example.com".into()),
        name: Some("Bob".into()),
        groups: vec!["staff".into()],
    }
}

#[test]
fn the_cluster_version_starts_at_2_and_is_only_raised() {
    let mut state = State::default();
    assert_eq!(state.cluster_version(), 2);
    assert_eq!(
        state.apply(&Command::SetClusterVersion { version: 3 }),
        Outcome::Done
    );
    assert_eq!(state.cluster_version(), 3);
    // A stale proposal (a slower leader's) lowers nothing.
    assert_eq!(
        state.apply(&Command::SetClusterVersion { version: 2 }),
        Outcome::Done
    );
    assert_eq!(state.cluster_version(), 3);
}

#[test]
fn from_version_3_a_grant_carries_the_claims_read_in_the_same_step() {
    let mut state = state_at(3);
    assert_eq!(state.apply(&code([1; 32], SUBJECT)), Outcome::Done);
    let Outcome::Granted { family, claims, .. } = state.apply(&redeem([1; 32], [11; 32])) else {
        panic!("expected a grant");
    };
    assert_eq!(claims, Some(bobs_claims()));
    let Outcome::Granted {
        family: f, claims, ..
    } = state.apply(&rotate([11; 32], [12; 32]))
    else {
        panic!("expected a rotation");
    };
    assert_eq!((f, claims), (family, Some(bobs_claims())));
    // A local account (no profile): claims judged and empty.
    assert_eq!(state.apply(&code([2; 32], "sub-alice")), Outcome::Done);
    let Outcome::Granted { claims, .. } = state.apply(&redeem([2; 32], [21; 32])) else {
        panic!("expected a grant");
    };
    assert_eq!(claims, Some(Claims::default()));
}

#[test]
fn from_version_3_a_switched_off_provider_is_refused_in_apply_and_nothing_changes() {
    let mut state = state_at(3);
    assert_eq!(state.apply(&code([1; 32], SUBJECT)), Outcome::Done);
    assert!(matches!(
        state.apply(&redeem([1; 32], [11; 32])),
        Outcome::Granted { .. }
    ));
    assert_eq!(state.apply(&code([2; 32], SUBJECT)), Outcome::Done);
    assert_eq!(state.apply(&provider(false)), Outcome::Done);

    let before = state.clone();
    let refused = Outcome::Refused(Refusal::IdentityProviderDisabled);
    assert_eq!(state.apply(&rotate([11; 32], [12; 32])), refused);
    assert_eq!(state.apply(&redeem([2; 32], [22; 32])), refused);
    assert_eq!(state.apply(&code([3; 32], SUBJECT)), refused);
    assert_eq!(
        state, before,
        "a refused rotation, redemption or code changes nothing"
    );

    // Switched on again, the same token and code work: nothing was consumed.
    assert_eq!(state.apply(&provider(true)), Outcome::Done);
    assert!(matches!(
        state.apply(&rotate([11; 32], [12; 32])),
        Outcome::Granted { .. }
    ));
    assert!(matches!(
        state.apply(&redeem([2; 32], [22; 32])),
        Outcome::Granted { .. }
    ));
}

#[test]
fn at_version_2_apply_keeps_the_rules_0_1_nodes_apply() {
    // 0.1 nodes apply the same log: they rotate the family and the answering node refuses
    // after the commit, so apply() must rotate here too, and read no claims.
    let mut state = state_at(2);
    assert_eq!(state.apply(&code([1; 32], SUBJECT)), Outcome::Done);
    assert!(matches!(
        state.apply(&redeem([1; 32], [11; 32])),
        Outcome::Granted { .. }
    ));
    assert_eq!(state.apply(&provider(false)), Outcome::Done);
    let Outcome::Granted { claims, .. } = state.apply(&rotate([11; 32], [12; 32])) else {
        panic!("format 2 rules rotate regardless of the provider");
    };
    assert_eq!(claims, None);
    assert_eq!(state.apply(&code([2; 32], SUBJECT)), Outcome::Done);
}
