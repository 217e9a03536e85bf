//! The commands storage format 4 added, in apply(): client records of every origin, RFC 7592
//! update and delete, the config file's clients seeded once, RFC 7009 revocation of both token
//! kinds, signing keys added by a rotation and retired by the purge, password changes; and,
//! below cluster version 4, nothing kept that format 3 cannot hold. Time pinned.

use mcpauth_state::format::{decode_snapshot, encode_state};
use mcpauth_state::{
    grant, AuthCode, Client, ClientMetadata, ClientOrigin, Command, Consent, Outcome, Refusal,
    Sealed, SigningKey, State, UnixTime, User,
};

const T0: UnixTime = 1_800_000_000;
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1/callback";
const RESOURCE: &str = "https://mcp.example.com/mcp";

fn metadata(name: &str) -> ClientMetadata {
    ClientMetadata {
        redirect_uris: vec![REDIRECT.into()],
        token_endpoint_auth_method: "none".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        client_name: Some(name.into()),
        ..ClientMetadata::default()
    }
}

fn client(id: &str, origin: ClientOrigin) -> Client {
    Client {
        disabled: false,
        last_used_at: None,
        client_id: id.into(),
        secret_digest: None,
        metadata: metadata(id),
        issued_at: T0,
        first_login_at: None,
        registration_token_digest: Some([9; 32]),
        origin,
    }
}

fn key(kid: &str, created_at: UnixTime, activates_at: UnixTime) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        public_key: vec![4; 65],
        sealed_private_key: Sealed {
            nonce: [1; 12],
            ciphertext: vec![2; 150],
        },
        created_at,
        activates_at,
        retires_at: None,
    }
}

fn at_version(version: u32) -> State {
    let mut state = State::default();
    assert_eq!(
        state.apply(&Command::SetClusterVersion { version }),
        Outcome::Done
    );
    state
}

fn apply_ok(state: &mut State, command: Command) {
    let kind = command.kind();
    let outcome = state.apply(&command);
    assert!(
        matches!(outcome, Outcome::Done | Outcome::Granted { .. }),
        "{kind}: {outcome:?}"
    );
}

/// `client_id` with a live family (first token `[refresh; 32]`), a consent and a pending code.
fn signed_in(state: &mut State, client_id: &str, refresh: u8) {
    let code = |digest: [u8; 32]| Command::IssueCode {
        code: AuthCode {
            digest,
            grant: grant(client_id, "sub-alice", "mcp", RESOURCE, T0),
            redirect_uri: REDIRECT.into(),
            code_challenge: CHALLENGE.into(),
            expires_at: T0 + 60,
            redeemed_into: None,
        },
    };
    apply_ok(state, code([refresh; 32]));
    apply_ok(state, code([refresh + 100; 32]));
    apply_ok(
        state,
        Command::RedeemCode {
            digest: [refresh; 32],
            client_id: client_id.into(),
            redirect_uri: REDIRECT.into(),
            verifier_challenge: CHALLENGE.into(),
            resource: None,
            now: T0 + 1,
            refresh_digest: [refresh; 32],
            refresh_idle_expires_at: T0 + 86_400,
        },
    );
    apply_ok(
        state,
        Command::GrantConsent {
            consent: Consent {
                subject: "sub-alice".into(),
                client_id: client_id.into(),
                scopes: vec!["mcp".into()],
                granted_at: T0,
            },
        },
    );
}

#[test]
fn put_client_records_a_document_client_and_refreshes_it_keeping_its_history() {
    let mut state = at_version(4);
    let url = "https://app.example/client.json";
    apply_ok(
        &mut state,
        Command::PutClient {
            client: client(url, ClientOrigin::MetadataDocument),
        },
    );
    signed_in(&mut state, url, 10);
    let first_login = state.client(url).unwrap().first_login_at;
    assert_eq!(first_login, Some(T0 + 1));
    let mut changed = client(url, ClientOrigin::MetadataDocument);
    changed.metadata = metadata("Renamed");
    changed.issued_at = T0 + 500;
    apply_ok(&mut state, Command::PutClient { client: changed });
    let stored = state.client(url).unwrap();
    assert_eq!(stored.metadata.client_name.as_deref(), Some("Renamed"));
    assert_eq!((stored.issued_at, stored.first_login_at), (T0, first_login));
}

#[test]
fn update_client_replaces_the_metadata_and_refuses_an_unknown_client() {
    let mut state = at_version(4);
    apply_ok(
        &mut state,
        Command::RegisterClient {
            client: client("app", ClientOrigin::Registered),
        },
    );
    apply_ok(
        &mut state,
        Command::UpdateClient {
            client_id: "app".into(),
            metadata: metadata("App v2"),
        },
    );
    let stored = state.client("app").unwrap();
    assert_eq!(stored.metadata.client_name.as_deref(), Some("App v2"));
    assert_eq!(stored.registration_token_digest, Some([9; 32]));
    let before = state.clone();
    assert_eq!(
        state.apply(&Command::UpdateClient {
            client_id: "ghost".into(),
            metadata: metadata("ghost"),
        }),
        Outcome::Refused(Refusal::UnknownClient)
    );
    assert_eq!(state, before);
}

#[test]
fn delete_client_forgets_its_codes_consents_and_families_and_nothing_else() {
    let mut state = at_version(4);
    for id in ["doomed", "kept"] {
        apply_ok(
            &mut state,
            Command::RegisterClient {
                client: client(id, ClientOrigin::Registered),
            },
        );
    }
    signed_in(&mut state, "doomed", 10);
    signed_in(&mut state, "kept", 20);
    let before = state.counts();
    apply_ok(
        &mut state,
        Command::DeleteClient {
            client_id: "doomed".into(),
        },
    );
    let after = state.counts();
    assert!(state.client("doomed").is_none() && state.client("kept").is_some());
    assert_eq!(after.clients, before.clients - 1);
    assert_eq!(after.codes, before.codes - 2);
    assert_eq!(after.consents, before.consents - 1);
    assert_eq!(after.refresh_families, before.refresh_families - 1);
    assert_eq!(after.refresh_tokens, before.refresh_tokens - 1);
    assert!(state.refresh_token_family(&[10; 32]).is_none());
    assert!(state.refresh_token_family(&[20; 32]).is_some());
    assert_eq!(
        state.apply(&Command::DeleteClient {
            client_id: "doomed".into()
        }),
        Outcome::Refused(Refusal::UnknownClient)
    );
}

#[test]
fn configured_clients_are_seeded_once_and_never_reaped() {
    let mut state = at_version(4);
    assert!(!state.clients_seeded());
    apply_ok(
        &mut state,
        Command::SeedClients {
            clients: vec![client("configured", ClientOrigin::Configured)],
        },
    );
    assert!(state.clients_seeded());
    assert_eq!(
        state.apply(&Command::SeedClients {
            clients: vec![client("late", ClientOrigin::Configured)],
        }),
        Outcome::Refused(Refusal::AlreadySeeded)
    );
    assert!(state.client("late").is_none());
    // A registration and a configured client, neither ever used, a year later.
    apply_ok(
        &mut state,
        Command::RegisterClient {
            client: client("unused", ClientOrigin::Registered),
        },
    );
    state.apply(&Command::Purge {
        audit: Default::default(),
        now: T0 + 365 * 86_400,
        unclaimed_client_ttl: 86_400,
    });
    assert!(state.client("configured").is_some());
    assert!(state.client("unused").is_none());
}

#[test]
fn revoking_a_refresh_token_ends_its_family_for_its_own_client_only() {
    let mut state = at_version(4);
    apply_ok(
        &mut state,
        Command::RegisterClient {
            client: client("app", ClientOrigin::Registered),
        },
    );
    signed_in(&mut state, "app", 10);
    let before = state.clone();
    assert_eq!(
        state.apply(&Command::RevokeRefreshToken {
            digest: [10; 32],
            client_id: "other".into(),
        }),
        Outcome::Refused(Refusal::RefreshClientMismatch)
    );
    assert_eq!(state, before, "another client's revocation changes nothing");
    // An unknown token is no error (RFC 7009 §2.2) and changes nothing.
    assert_eq!(
        state.apply(&Command::RevokeRefreshToken {
            digest: [77; 32],
            client_id: "app".into(),
        }),
        Outcome::Done
    );
    assert_eq!(state, before);
    apply_ok(
        &mut state,
        Command::RevokeRefreshToken {
            digest: [10; 32],
            client_id: "app".into(),
        },
    );
    assert!(state.refresh_token_family(&[10; 32]).is_none());
    assert_eq!(state.counts().refresh_families, 0);
}

#[test]
fn a_revoked_access_token_is_denied_until_it_expires() {
    let mut state = at_version(4);
    apply_ok(
        &mut state,
        Command::RevokeAccessToken {
            jti: "jti-1".into(),
            expires_at: T0 + 3_600,
        },
    );
    assert!(state.access_token_revoked("jti-1"));
    assert!(!state.access_token_revoked("jti-2"));
    state.apply(&Command::Purge {
        audit: Default::default(),
        now: T0 + 3_599,
        unclaimed_client_ttl: 86_400,
    });
    assert!(
        state.access_token_revoked("jti-1"),
        "purged before it expired"
    );
    state.apply(&Command::Purge {
        audit: Default::default(),
        now: T0 + 3_600,
        unclaimed_client_ttl: 86_400,
    });
    assert!(
        !state.access_token_revoked("jti-1"),
        "kept after it expired"
    );
}

#[test]
fn a_rotated_key_signs_from_its_activation_and_the_old_one_retires_after_its_tokens() {
    let mut state = at_version(4);
    let first = key("k1", T0, T0);
    assert!(matches!(
        state.apply(&Command::EnsureSigningKey { key: first.clone() }),
        Outcome::SigningKey { created: true, .. }
    ));
    let next = key("k2", T0 + 100, T0 + 1_000);
    assert!(matches!(
        state.apply(&Command::AddSigningKey {
            key: next.clone(),
            retire_previous_at: T0 + 1_000 + 3_600,
        }),
        Outcome::SigningKey { created: true, .. }
    ));
    // Published at once, signing only from its activation.
    assert_eq!(state.signing_keys().len(), 2);
    assert_eq!(state.active_signing_key(T0 + 999).unwrap().kid, "k1");
    assert_eq!(state.active_signing_key(T0 + 1_000).unwrap().kid, "k2");
    // The same proposal again is answered as before; another key under its kid is refused.
    assert!(matches!(
        state.apply(&Command::AddSigningKey {
            key: next.clone(),
            retire_previous_at: T0 + 1_000 + 3_600,
        }),
        Outcome::SigningKey { created: false, .. }
    ));
    assert_eq!(
        state.apply(&Command::AddSigningKey {
            key: key("k2", T0 + 200, T0 + 2_000),
            retire_previous_at: T0 + 9_999,
        }),
        Outcome::Refused(Refusal::DuplicateSecret)
    );
    // k1 retires when the last token it signed has expired, k2 never by itself.
    let purge = |now| Command::Purge {
        audit: Default::default(),
        now,
        unclaimed_client_ttl: 86_400,
    };
    state.apply(&purge(T0 + 4_599));
    assert_eq!(state.signing_keys().len(), 2);
    state.apply(&purge(T0 + 4_600));
    let kids: Vec<&str> = state
        .signing_keys()
        .iter()
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(kids, ["k2"]);
}

#[test]
fn set_user_password_replaces_the_hash_and_refuses_an_unknown_user() {
    let mut state = at_version(4);
    apply_ok(
        &mut state,
        Command::CreateUser {
            user: User {
                roles: Vec::new(),
                must_change_password: false,
                username: "admin".into(),
                subject: "admin".into(),
                password_hash: "old".into(),
                created_at: T0,
                disabled: false,
            },
        },
    );
    apply_ok(
        &mut state,
        Command::SetUserPassword {
            username: "admin".into(),
            password_hash: "new".into(),
        },
    );
    assert_eq!(state.user("admin").unwrap().password_hash, "new");
    let before = state.clone();
    assert_eq!(
        state.apply(&Command::SetUserPassword {
            username: "nobody".into(),
            password_hash: "x".into(),
        }),
        Outcome::Refused(Refusal::UnknownUser)
    );
    assert_eq!(state, before);
}

#[test]
fn below_cluster_version_4_a_registration_and_a_key_keep_only_what_format_3_holds() {
    let mut state = at_version(3);
    apply_ok(
        &mut state,
        Command::RegisterClient {
            client: client("app", ClientOrigin::Configured),
        },
    );
    state.apply(&Command::EnsureSigningKey {
        key: key("k1", T0, T0 + 500),
    });
    let stored = state.client("app").unwrap();
    assert_eq!(stored.registration_token_digest, None);
    assert_eq!(stored.origin, ClientOrigin::Registered);
    assert_eq!(state.signing_keys()[0].activates_at, T0);
    // So a follower that installs a format-3 snapshot holds exactly the same.
    let (format, bytes) = encode_state(&state).unwrap();
    assert_eq!(format, 3);
    let mut snapshot = format.to_le_bytes().to_vec();
    snapshot.extend_from_slice(&bytes);
    assert_eq!(decode_snapshot(&snapshot).unwrap(), state);
}
