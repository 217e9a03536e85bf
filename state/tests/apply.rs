//! `State::apply` through the crate's public API: every command, every refusal, time pinned.
//!
//! No clock and no randomness: instants are offsets from the fixed `T0`, and every secret digest
//! is a constant such as `[1u8; 32]`. Where a refusal must change nothing, the test compares a
//! clone of the state taken before the command with the state after it.

use mcpauth_state::{
    decode, encode, grant, AuthCode, Claims, Client, ClientMetadata, Command, Consent, Digest,
    FamilyId, Outcome, PurgeCounts, Refusal, Sealed, Session, Settings, SigningKey, State,
    UnixTime, User,
};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The pinned "now" every test starts from.
const T0: UnixTime = 1_700_000_000;

const CLIENT: &str = "client-a";
const OTHER_CLIENT: &str = "client-b";
const SUBJECT: &str = "sub-alice";
const SCOPE: &str = "files:read files:write";
const RESOURCE: &str = "https://mcp.example.com/";
const REDIRECT: &str = "https://app.example.com/callback";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const CODE: Digest = [1u8; 32];
const REFRESH_1: Digest = [11u8; 32];
const REFRESH_2: Digest = [12u8; 32];
const REFRESH_3: Digest = [13u8; 32];

/// Lifetime of a code and idle lifetime of a refresh token in these tests.
const CODE_TTL: u64 = 60;
const IDLE_TTL: u64 = 3_600;

fn client(client_id: &str, issued_at: UnixTime) -> Client {
    Client {
        disabled: false,
        last_used_at: None,
        client_id: client_id.to_owned(),
        secret_digest: None,
        metadata: ClientMetadata {
            redirect_uris: vec![REDIRECT.to_owned()],
            token_endpoint_auth_method: "none".to_owned(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            client_name: Some(format!("{client_id} app")),
            ..ClientMetadata::default()
        },
        issued_at,
        first_login_at: None,
        registration_token_digest: None,
        origin: mcpauth_state::ClientOrigin::Registered,
    }
}

fn user(username: &str) -> User {
    User {
        roles: Vec::new(),
        must_change_password: false,
        username: username.to_owned(),
        subject: format!("sub-{username}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at: T0,
        disabled: false,
    }
}

fn session(id_digest: Digest, expires_at: UnixTime) -> Session {
    Session {
        identity_provider: None,
        source: None,
        id_digest,
        subject: SUBJECT.to_owned(),
        username: "alice".to_owned(),
        created_at: T0,
        expires_at,
    }
}

fn consent(client_id: &str, scopes: &[&str], granted_at: UnixTime) -> Consent {
    Consent {
        subject: SUBJECT.to_owned(),
        client_id: client_id.to_owned(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        granted_at,
    }
}

/// A code for `client_id`, valid until `expires_at`, granting `SCOPE` on `RESOURCE`.
fn code(digest: Digest, client_id: &str, expires_at: UnixTime) -> AuthCode {
    AuthCode {
        digest,
        grant: grant(client_id, SUBJECT, SCOPE, RESOURCE, T0),
        redirect_uri: REDIRECT.to_owned(),
        code_challenge: CHALLENGE.to_owned(),
        expires_at,
        redeemed_into: None,
    }
}

/// A redemption that matches a `code(...)` in every field.
fn redeem(digest: Digest, client_id: &str, now: UnixTime, refresh_digest: Digest) -> Command {
    Command::RedeemCode {
        digest,
        client_id: client_id.to_owned(),
        redirect_uri: REDIRECT.to_owned(),
        verifier_challenge: CHALLENGE.to_owned(),
        resource: Some(RESOURCE.to_owned()),
        now,
        refresh_digest,
        refresh_idle_expires_at: now + IDLE_TTL,
    }
}

/// A rotation with no resource and no scope, renewing the idle lifetime from `now`.
fn rotate(presented: Digest, client_id: &str, next: Digest, now: UnixTime) -> Command {
    Command::RotateRefresh {
        presented,
        client_id: client_id.to_owned(),
        resource: None,
        scope: None,
        next,
        now,
        idle_expires_at: now + IDLE_TTL,
        reuse: mcpauth_state::RefreshReuse::Strict,
    }
}

fn rotate_with_scope(presented: Digest, next: Digest, now: UnixTime, scope: &str) -> Command {
    Command::RotateRefresh {
        presented,
        client_id: CLIENT.to_owned(),
        resource: None,
        scope: Some(scope.to_owned()),
        next,
        now,
        idle_expires_at: now + IDLE_TTL,
        reuse: mcpauth_state::RefreshReuse::Strict,
    }
}

fn signing_key(kid: &str, created_at: UnixTime) -> SigningKey {
    SigningKey {
        kid: kid.to_owned(),
        alg: "ES256".to_owned(),
        public_key: vec![0x04; 65],
        sealed_private_key: Sealed {
            nonce: [7u8; 12],
            ciphertext: kid.as_bytes().to_vec(),
        },
        created_at,
        activates_at: created_at,
        retires_at: None,
    }
}

fn register(state: &mut State, client: Client) {
    assert_eq!(
        state.apply(&Command::RegisterClient { client }),
        Outcome::Done
    );
}

fn issue(state: &mut State, code: AuthCode) {
    assert_eq!(state.apply(&Command::IssueCode { code }), Outcome::Done);
}

/// Apply a command that must be granted; returns the family it names.
fn granted(state: &mut State, command: &Command) -> FamilyId {
    match state.apply(command) {
        Outcome::Granted { family, .. } => family,
        other => panic!("expected Granted, got {other:?}"),
    }
}

/// A state with `CLIENT` registered at `T0` and `CODE` issued, valid for `CODE_TTL` seconds.
fn with_code() -> State {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    issue(&mut state, code(CODE, CLIENT, T0 + CODE_TTL));
    state
}

/// `with_code()` after `CODE` was redeemed at `T0 + 1` into a family whose current refresh
/// token is `REFRESH_1` (idle until `T0 + 1 + IDLE_TTL`).
fn with_family() -> (State, FamilyId) {
    let mut state = with_code();
    let family = granted(&mut state, &redeem(CODE, CLIENT, T0 + 1, REFRESH_1));
    (state, family)
}

/// Apply `command`, expect `refusal`, and prove the state did not change.
fn assert_refused_unchanged(state: &mut State, command: &Command, refusal: Refusal) {
    let before = state.clone();
    assert_eq!(state.apply(command), Outcome::Refused(refusal));
    assert_eq!(*state, before, "a refusal must leave the state unchanged");
}

// ---------------------------------------------------------------------------------------------
// RegisterClient
// ---------------------------------------------------------------------------------------------

#[test]
fn register_client_stores_the_client() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    assert_eq!(state.client(CLIENT), Some(&client(CLIENT, T0)));
    assert_eq!(state.counts().clients, 1);
}

#[test]
fn register_client_with_taken_id_is_refused_and_keeps_the_first() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    let mut impostor = client(CLIENT, T0 + 5);
    impostor.secret_digest = Some([9u8; 32]);
    impostor.metadata.redirect_uris = vec!["https://evil.example/cb".into()];

    assert_refused_unchanged(
        &mut state,
        &Command::RegisterClient { client: impostor },
        Refusal::ClientExists,
    );
    assert_eq!(state.client(CLIENT), Some(&client(CLIENT, T0)));
}

// ---------------------------------------------------------------------------------------------
// CreateUser
// ---------------------------------------------------------------------------------------------

#[test]
fn create_user_stores_the_user() {
    let mut state = State::default();
    let outcome = state.apply(&Command::CreateUser {
        user: user("alice"),
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(state.user("alice"), Some(&user("alice")));
}

#[test]
fn create_user_with_taken_username_is_refused_and_keeps_the_first() {
    let mut state = State::default();
    state.apply(&Command::CreateUser {
        user: user("alice"),
    });
    let mut second = user("alice");
    second.subject = "sub-someone-else".into();

    assert_refused_unchanged(
        &mut state,
        &Command::CreateUser { user: second },
        Refusal::UserExists,
    );
    assert_eq!(state.user("alice"), Some(&user("alice")));
}

// ---------------------------------------------------------------------------------------------
// CreateSession / EndSession
// ---------------------------------------------------------------------------------------------

#[test]
fn create_session_without_replaces_adds_it() {
    let mut state = State::default();
    let outcome = state.apply(&Command::CreateSession {
        session: session([2u8; 32], T0 + 100),
        replaces: None,
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(
        state.session(&[2u8; 32]),
        Some(&session([2u8; 32], T0 + 100))
    );
}

#[test]
fn create_session_with_replaces_ends_the_replaced_session() {
    let mut state = State::default();
    state.apply(&Command::CreateSession {
        session: session([2u8; 32], T0 + 100),
        replaces: None,
    });
    let outcome = state.apply(&Command::CreateSession {
        session: session([3u8; 32], T0 + 200),
        replaces: Some([2u8; 32]),
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(state.session(&[2u8; 32]), None);
    assert_eq!(
        state.session(&[3u8; 32]),
        Some(&session([3u8; 32], T0 + 200))
    );
    assert_eq!(state.counts().sessions, 1);
}

#[test]
fn create_session_replacing_an_unknown_session_still_adds_it() {
    let mut state = State::default();
    let outcome = state.apply(&Command::CreateSession {
        session: session([3u8; 32], T0 + 200),
        replaces: Some([2u8; 32]),
    });
    assert_eq!(outcome, Outcome::Done);
    assert!(state.session(&[3u8; 32]).is_some());
}

#[test]
fn create_session_with_existing_digest_is_refused() {
    let mut state = State::default();
    state.apply(&Command::CreateSession {
        session: session([2u8; 32], T0 + 100),
        replaces: None,
    });
    assert_refused_unchanged(
        &mut state,
        &Command::CreateSession {
            session: session([2u8; 32], T0 + 999),
            replaces: None,
        },
        Refusal::DuplicateSecret,
    );
    assert_eq!(
        state.session(&[2u8; 32]),
        Some(&session([2u8; 32], T0 + 100))
    );
}

/// Regression: the replaced session used to be removed before the duplicate check, so a
/// refused login still logged the browser out.
#[test]
fn refused_create_session_does_not_end_the_replaced_session() {
    let mut state = State::default();
    for id in [[2u8; 32], [3u8; 32]] {
        state.apply(&Command::CreateSession {
            session: session(id, T0 + 100),
            replaces: None,
        });
    }
    assert_refused_unchanged(
        &mut state,
        &Command::CreateSession {
            session: session([3u8; 32], T0 + 200),
            replaces: Some([2u8; 32]),
        },
        Refusal::DuplicateSecret,
    );
    assert!(state.session(&[2u8; 32]).is_some());
}

#[test]
fn end_session_removes_it() {
    let mut state = State::default();
    state.apply(&Command::CreateSession {
        session: session([2u8; 32], T0 + 100),
        replaces: None,
    });
    let outcome = state.apply(&Command::EndSession {
        id_digest: [2u8; 32],
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(state.session(&[2u8; 32]), None);
}

#[test]
fn end_session_of_unknown_session_is_done_and_changes_nothing() {
    let mut state = State::default();
    state.apply(&Command::CreateSession {
        session: session([2u8; 32], T0 + 100),
        replaces: None,
    });
    let before = state.clone();
    let outcome = state.apply(&Command::EndSession {
        id_digest: [9u8; 32],
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(state, before);
}

// ---------------------------------------------------------------------------------------------
// GrantConsent
// ---------------------------------------------------------------------------------------------

#[test]
fn grant_consent_for_unknown_client_is_refused() {
    let mut state = State::default();
    assert_refused_unchanged(
        &mut state,
        &Command::GrantConsent {
            consent: consent(CLIENT, &["files:read"], T0),
        },
        Refusal::UnknownClient,
    );
    assert_eq!(state.consent(SUBJECT, CLIENT), None);
}

#[test]
fn grant_consent_stores_scopes_sorted_and_deduplicated() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    let outcome = state.apply(&Command::GrantConsent {
        consent: consent(CLIENT, &["b", "a", "b"], T0),
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(
        state.consent(SUBJECT, CLIENT),
        Some(&consent(CLIENT, &["a", "b"], T0))
    );
}

#[test]
fn grant_consent_merges_with_earlier_consent() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    state.apply(&Command::GrantConsent {
        consent: consent(CLIENT, &["files:write", "files:read"], T0),
    });
    state.apply(&Command::GrantConsent {
        consent: consent(CLIENT, &["admin", "files:read"], T0 + 50),
    });
    let stored = state.consent(SUBJECT, CLIENT).expect("consent");
    assert_eq!(stored.scopes, ["admin", "files:read", "files:write"]);
    assert_eq!(stored.granted_at, T0 + 50);
    assert_eq!(state.counts().consents, 1);
}

#[test]
fn grant_consent_is_kept_per_subject_and_client() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    register(&mut state, client(OTHER_CLIENT, T0));
    state.apply(&Command::GrantConsent {
        consent: consent(CLIENT, &["a"], T0),
    });
    state.apply(&Command::GrantConsent {
        consent: consent(OTHER_CLIENT, &["b"], T0),
    });
    assert_eq!(state.consent(SUBJECT, CLIENT).unwrap().scopes, ["a"]);
    assert_eq!(state.consent(SUBJECT, OTHER_CLIENT).unwrap().scopes, ["b"]);
    assert_eq!(state.consent("sub-bob", CLIENT), None);
}

// ---------------------------------------------------------------------------------------------
// IssueCode
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_code_stores_it_for_a_known_client() {
    let state = with_code();
    assert_eq!(state.counts().codes, 1);
}

#[test]
fn issue_code_for_unknown_client_is_refused() {
    let mut state = State::default();
    assert_refused_unchanged(
        &mut state,
        &Command::IssueCode {
            code: code(CODE, CLIENT, T0 + CODE_TTL),
        },
        Refusal::UnknownClient,
    );
}

#[test]
fn issue_code_with_existing_digest_is_refused() {
    let mut state = with_code();
    let mut again = code(CODE, CLIENT, T0 + 999);
    again.redirect_uri = "https://evil.example/cb".into();
    assert_refused_unchanged(
        &mut state,
        &Command::IssueCode { code: again },
        Refusal::DuplicateSecret,
    );
    // The original code still redeems with its own redirect_uri.
    granted(&mut state, &redeem(CODE, CLIENT, T0 + 1, REFRESH_1));
}

// ---------------------------------------------------------------------------------------------
// RedeemCode
// ---------------------------------------------------------------------------------------------

#[test]
fn redeem_code_grants_the_codes_grant_in_a_new_family() {
    let mut state = with_code();
    let outcome = state.apply(&redeem(CODE, CLIENT, T0 + 1, REFRESH_1));
    let Outcome::Granted {
        family,
        grant: g,
        claims,
    } = outcome
    else {
        panic!("expected Granted, got {outcome:?}");
    };
    assert_eq!(g, grant(CLIENT, SUBJECT, SCOPE, RESOURCE, T0));
    // Under format 2 rules (the default cluster version) apply() reads no claims: the
    // answering node does (state/tests/cluster_version.rs covers format 3).
    assert_eq!(claims, None);

    let fam = state.family(family).expect("family created");
    assert_eq!(fam.id, family);
    assert_eq!(fam.grant, g);
    assert_eq!(fam.current, REFRESH_1);
    assert_eq!(fam.idle_expires_at, T0 + 1 + IDLE_TTL);
    assert_eq!(fam.created_at, T0 + 1);
    assert_eq!(fam.rotations, 0);
    assert_eq!(state.counts().refresh_tokens, 1);
}

#[test]
fn redeem_code_marks_the_clients_first_login() {
    let mut state = with_code();
    assert_eq!(state.client(CLIENT).unwrap().first_login_at, None);
    granted(&mut state, &redeem(CODE, CLIENT, T0 + 7, REFRESH_1));
    assert_eq!(state.client(CLIENT).unwrap().first_login_at, Some(T0 + 7));
}

#[test]
fn redeem_code_keeps_the_first_login_instant_on_later_logins() {
    let (mut state, _) = with_family();
    issue(&mut state, code([2u8; 32], CLIENT, T0 + 100));
    granted(&mut state, &redeem([2u8; 32], CLIENT, T0 + 50, REFRESH_2));
    assert_eq!(state.client(CLIENT).unwrap().first_login_at, Some(T0 + 1));
}

#[test]
fn redeem_code_without_resource_uses_the_codes_resource() {
    let mut state = with_code();
    let mut command = redeem(CODE, CLIENT, T0 + 1, REFRESH_1);
    if let Command::RedeemCode { resource, .. } = &mut command {
        *resource = None;
    }
    let Outcome::Granted { grant: g, .. } = state.apply(&command) else {
        panic!("expected Granted");
    };
    assert_eq!(g.resource, RESOURCE);
}

#[test]
fn redeem_codes_get_distinct_family_ids() {
    let (mut state, first) = with_family();
    issue(&mut state, code([2u8; 32], CLIENT, T0 + 100));
    let second = granted(&mut state, &redeem([2u8; 32], CLIENT, T0 + 2, REFRESH_2));
    assert_ne!(first, second);
    assert!(state.family(first).is_some());
    assert!(state.family(second).is_some());
}

#[test]
fn redeem_unknown_code_is_refused_unchanged() {
    let mut state = with_code();
    assert_refused_unchanged(
        &mut state,
        &redeem([99u8; 32], CLIENT, T0 + 1, REFRESH_1),
        Refusal::UnknownCode,
    );
}

#[test]
fn redeem_code_by_another_client_is_refused_unchanged() {
    let mut state = with_code();
    register(&mut state, client(OTHER_CLIENT, T0));
    assert_refused_unchanged(
        &mut state,
        &redeem(CODE, OTHER_CLIENT, T0 + 1, REFRESH_1),
        Refusal::CodeClientMismatch,
    );
}

#[test]
fn redeem_code_at_exactly_its_expiry_is_refused_unchanged() {
    let mut state = with_code();
    assert_refused_unchanged(
        &mut state,
        &redeem(CODE, CLIENT, T0 + CODE_TTL, REFRESH_1),
        Refusal::CodeExpired,
    );
}

#[test]
fn redeem_code_after_its_expiry_is_refused_unchanged() {
    let mut state = with_code();
    assert_refused_unchanged(
        &mut state,
        &redeem(CODE, CLIENT, T0 + CODE_TTL + 1, REFRESH_1),
        Refusal::CodeExpired,
    );
}

#[test]
fn redeem_code_one_second_before_expiry_succeeds() {
    let mut state = with_code();
    granted(
        &mut state,
        &redeem(CODE, CLIENT, T0 + CODE_TTL - 1, REFRESH_1),
    );
}

#[test]
fn redeem_code_with_other_redirect_uri_is_refused_unchanged() {
    let mut state = with_code();
    let mut command = redeem(CODE, CLIENT, T0 + 1, REFRESH_1);
    if let Command::RedeemCode { redirect_uri, .. } = &mut command {
        *redirect_uri = "https://app.example.com/other".into();
    }
    assert_refused_unchanged(&mut state, &command, Refusal::RedirectMismatch);
}

#[test]
fn redeem_code_with_wrong_pkce_verifier_is_refused_unchanged() {
    let mut state = with_code();
    let mut command = redeem(CODE, CLIENT, T0 + 1, REFRESH_1);
    if let Command::RedeemCode {
        verifier_challenge, ..
    } = &mut command
    {
        // Same length, last character differs.
        *verifier_challenge = CHALLENGE.replace("cM", "cN");
    }
    assert_refused_unchanged(&mut state, &command, Refusal::PkceMismatch);
}

#[test]
fn redeem_code_with_pkce_challenge_of_other_length_is_refused_unchanged() {
    let mut state = with_code();
    let mut command = redeem(CODE, CLIENT, T0 + 1, REFRESH_1);
    if let Command::RedeemCode {
        verifier_challenge, ..
    } = &mut command
    {
        verifier_challenge.clear();
    }
    assert_refused_unchanged(&mut state, &command, Refusal::PkceMismatch);
}

#[test]
fn redeem_code_for_other_resource_is_refused_unchanged() {
    let mut state = with_code();
    let mut command = redeem(CODE, CLIENT, T0 + 1, REFRESH_1);
    if let Command::RedeemCode { resource, .. } = &mut command {
        *resource = Some("https://other-mcp.example.com/".into());
    }
    assert_refused_unchanged(&mut state, &command, Refusal::ResourceMismatch);
}

#[test]
fn redeem_code_with_refresh_digest_already_in_use_is_refused_unchanged() {
    let (mut state, _) = with_family();
    issue(&mut state, code([2u8; 32], CLIENT, T0 + 100));
    assert_refused_unchanged(
        &mut state,
        &redeem([2u8; 32], CLIENT, T0 + 2, REFRESH_1),
        Refusal::DuplicateSecret,
    );
}

#[test]
fn replayed_code_revokes_its_family_and_tokens() {
    let (mut state, family) = with_family();
    let outcome = state.apply(&redeem(CODE, CLIENT, T0 + 2, REFRESH_2));
    assert_eq!(
        outcome,
        Outcome::Refused(Refusal::CodeReplayed {
            revoked_family: Some(family)
        })
    );
    assert_eq!(state.family(family), None);
    assert_eq!(state.counts().refresh_families, 0);
    assert_eq!(state.counts().refresh_tokens, 0);
    // The family's current token no longer exists.
    assert_eq!(
        state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_3, T0 + 3)),
        Outcome::Refused(Refusal::UnknownRefreshToken)
    );
}

#[test]
fn replayed_code_revokes_rotated_tokens_of_its_family_too() {
    let (mut state, family) = with_family();
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 2));
    assert_eq!(
        state.apply(&redeem(CODE, CLIENT, T0 + 3, [50u8; 32])),
        Outcome::Refused(Refusal::CodeReplayed {
            revoked_family: Some(family)
        })
    );
    assert_eq!(state.counts().refresh_tokens, 0);
    for token in [REFRESH_1, REFRESH_2] {
        assert_eq!(
            state.apply(&rotate(token, CLIENT, REFRESH_3, T0 + 4)),
            Outcome::Refused(Refusal::UnknownRefreshToken)
        );
    }
}

#[test]
fn second_replay_revokes_nothing_more() {
    let (mut state, family) = with_family();
    state.apply(&redeem(CODE, CLIENT, T0 + 2, REFRESH_2));
    let after_first_replay = state.clone();
    assert_eq!(
        state.apply(&redeem(CODE, CLIENT, T0 + 3, REFRESH_3)),
        Outcome::Refused(Refusal::CodeReplayed {
            revoked_family: None
        })
    );
    assert_eq!(state, after_first_replay);
    assert_eq!(state.family(family), None);
}

#[test]
fn replay_leaves_other_families_alone() {
    let (mut state, first) = with_family();
    issue(&mut state, code([2u8; 32], CLIENT, T0 + 100));
    let second = granted(&mut state, &redeem([2u8; 32], CLIENT, T0 + 2, REFRESH_2));
    state.apply(&redeem(CODE, CLIENT, T0 + 3, REFRESH_3));
    assert_eq!(state.family(first), None);
    assert!(state.family(second).is_some());
    granted(&mut state, &rotate(REFRESH_2, CLIENT, REFRESH_3, T0 + 4));
}

#[test]
fn replay_after_the_code_expired_still_revokes() {
    // A redeemed code is kept until purged so a late replay is still recognised.
    let (mut state, family) = with_family();
    assert_eq!(
        state.apply(&redeem(CODE, CLIENT, T0 + CODE_TTL + 10, REFRESH_2)),
        Outcome::Refused(Refusal::CodeReplayed {
            revoked_family: Some(family)
        })
    );
}

#[test]
fn replay_by_another_client_is_a_mismatch_and_revokes_nothing() {
    let (mut state, family) = with_family();
    register(&mut state, client(OTHER_CLIENT, T0));
    assert_refused_unchanged(
        &mut state,
        &redeem(CODE, OTHER_CLIENT, T0 + 2, REFRESH_2),
        Refusal::CodeClientMismatch,
    );
    assert!(state.family(family).is_some());
}

// ---------------------------------------------------------------------------------------------
// RotateRefresh
// ---------------------------------------------------------------------------------------------

#[test]
fn rotate_refresh_grants_the_same_family_and_renews_it() {
    let (mut state, family) = with_family();
    let outcome = state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));
    assert_eq!(
        outcome,
        Outcome::Granted {
            family,
            grant: grant(CLIENT, SUBJECT, SCOPE, RESOURCE, T0),
            claims: None,
        }
    );
    let fam = state.family(family).unwrap();
    assert_eq!(fam.current, REFRESH_2);
    assert_eq!(fam.idle_expires_at, T0 + 10 + IDLE_TTL);
    assert_eq!(fam.rotations, 1);
    assert_eq!(fam.created_at, T0 + 1);
    // The retired digest is kept for reuse detection.
    assert_eq!(state.counts().refresh_tokens, 2);
}

#[test]
fn rotate_refresh_chains_through_successive_tokens() {
    let (mut state, family) = with_family();
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));
    granted(&mut state, &rotate(REFRESH_2, CLIENT, REFRESH_3, T0 + 20));
    let fam = state.family(family).unwrap();
    assert_eq!(fam.current, REFRESH_3);
    assert_eq!(fam.rotations, 2);
}

#[test]
fn rotate_refresh_with_matching_resource_succeeds() {
    let (mut state, family) = with_family();
    let command = Command::RotateRefresh {
        presented: REFRESH_1,
        client_id: CLIENT.into(),
        resource: Some(RESOURCE.into()),
        scope: None,
        next: REFRESH_2,
        now: T0 + 10,
        idle_expires_at: T0 + 10 + IDLE_TTL,
        reuse: mcpauth_state::RefreshReuse::Strict,
    };
    assert_eq!(granted(&mut state, &command), family);
}

#[test]
fn reused_refresh_token_revokes_the_family() {
    let (mut state, family) = with_family();
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));

    assert_eq!(
        state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_3, T0 + 20)),
        Outcome::Refused(Refusal::RefreshReused {
            revoked_family: family
        })
    );
    assert_eq!(state.family(family), None);
    assert_eq!(state.counts().refresh_tokens, 0);
    // The newest token of the revoked family fails too.
    assert_eq!(
        state.apply(&rotate(REFRESH_2, CLIENT, REFRESH_3, T0 + 30)),
        Outcome::Refused(Refusal::UnknownRefreshToken)
    );
}

#[test]
fn reuse_is_detected_even_after_the_family_went_idle() {
    let (mut state, family) = with_family();
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));
    assert_eq!(
        state.apply(&rotate(
            REFRESH_1,
            CLIENT,
            REFRESH_3,
            T0 + 10 + IDLE_TTL + 5
        )),
        Outcome::Refused(Refusal::RefreshReused {
            revoked_family: family
        })
    );
}

#[test]
fn reuse_leaves_other_families_alone() {
    let (mut state, first) = with_family();
    issue(&mut state, code([2u8; 32], CLIENT, T0 + 100));
    let second = granted(&mut state, &redeem([2u8; 32], CLIENT, T0 + 2, [21u8; 32]));
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));
    state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_3, T0 + 20));
    assert_eq!(state.family(first), None);
    assert_eq!(state.family(second).unwrap().current, [21u8; 32]);
    assert_eq!(state.counts().refresh_tokens, 1);
}

#[test]
fn rotate_refresh_by_another_client_is_refused_unchanged() {
    let (mut state, _) = with_family();
    register(&mut state, client(OTHER_CLIENT, T0));
    assert_refused_unchanged(
        &mut state,
        &rotate(REFRESH_1, OTHER_CLIENT, REFRESH_2, T0 + 10),
        Refusal::RefreshClientMismatch,
    );
}

#[test]
fn reused_token_presented_by_another_client_is_a_mismatch_and_revokes_nothing() {
    let (mut state, family) = with_family();
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));
    assert_refused_unchanged(
        &mut state,
        &rotate(REFRESH_1, OTHER_CLIENT, REFRESH_3, T0 + 20),
        Refusal::RefreshClientMismatch,
    );
    assert!(state.family(family).is_some());
}

#[test]
fn rotate_refresh_at_exactly_the_idle_expiry_is_refused_unchanged() {
    let (mut state, family) = with_family();
    let idle = state.family(family).unwrap().idle_expires_at;
    assert_refused_unchanged(
        &mut state,
        &rotate(REFRESH_1, CLIENT, REFRESH_2, idle),
        Refusal::RefreshExpired,
    );
}

#[test]
fn rotate_refresh_one_second_before_idle_expiry_succeeds() {
    let (mut state, family) = with_family();
    let idle = state.family(family).unwrap().idle_expires_at;
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, idle - 1));
}

#[test]
fn rotation_renews_the_idle_expiry() {
    let (mut state, family) = with_family();
    let first_idle = state.family(family).unwrap().idle_expires_at;
    granted(
        &mut state,
        &rotate(REFRESH_1, CLIENT, REFRESH_2, first_idle - 1),
    );
    // Past the first token's idle expiry, the new token is still live.
    granted(
        &mut state,
        &rotate(REFRESH_2, CLIENT, REFRESH_3, first_idle + 1),
    );
}

#[test]
fn rotate_refresh_for_other_resource_is_refused_unchanged() {
    let (mut state, _) = with_family();
    let command = Command::RotateRefresh {
        presented: REFRESH_1,
        client_id: CLIENT.into(),
        resource: Some("https://other-mcp.example.com/".into()),
        scope: None,
        next: REFRESH_2,
        now: T0 + 10,
        idle_expires_at: T0 + 10 + IDLE_TTL,
        reuse: mcpauth_state::RefreshReuse::Strict,
    };
    assert_refused_unchanged(&mut state, &command, Refusal::ResourceMismatch);
}

#[test]
fn rotate_refresh_asking_for_more_scope_is_refused_unchanged() {
    let (mut state, _) = with_family();
    assert_refused_unchanged(
        &mut state,
        &rotate_with_scope(REFRESH_1, REFRESH_2, T0 + 10, "files:read admin"),
        Refusal::ScopeExceeded,
    );
}

#[test]
fn narrowed_scope_applies_to_one_response_and_the_family_keeps_its_grant() {
    let (mut state, family) = with_family();

    let narrowed = state.apply(&rotate_with_scope(
        REFRESH_1,
        REFRESH_2,
        T0 + 10,
        "  files:read ",
    ));
    assert_eq!(
        narrowed,
        Outcome::Granted {
            family,
            grant: grant(CLIENT, SUBJECT, "files:read", RESOURCE, T0),
            claims: None,
        }
    );
    assert_eq!(state.family(family).unwrap().grant.scope, SCOPE);

    let full = state.apply(&rotate(REFRESH_2, CLIENT, REFRESH_3, T0 + 20));
    assert_eq!(
        full,
        Outcome::Granted {
            family,
            grant: grant(CLIENT, SUBJECT, SCOPE, RESOURCE, T0),
            claims: None,
        }
    );
}

#[test]
fn rotate_refresh_with_scope_in_another_order_is_within_the_grant() {
    let (mut state, _) = with_family();
    let Outcome::Granted { grant: g, .. } = state.apply(&rotate_with_scope(
        REFRESH_1,
        REFRESH_2,
        T0 + 10,
        "files:write files:read",
    )) else {
        panic!("expected Granted");
    };
    assert_eq!(g.scope, "files:write files:read");
}

#[test]
fn rotate_refresh_to_a_digest_already_in_use_is_refused_unchanged() {
    let (mut state, _) = with_family();
    issue(&mut state, code([2u8; 32], CLIENT, T0 + 100));
    granted(&mut state, &redeem([2u8; 32], CLIENT, T0 + 2, REFRESH_2));
    assert_refused_unchanged(
        &mut state,
        &rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10),
        Refusal::DuplicateSecret,
    );
}

#[test]
fn rotate_refresh_to_the_presented_digest_is_refused_unchanged() {
    let (mut state, _) = with_family();
    assert_refused_unchanged(
        &mut state,
        &rotate(REFRESH_1, CLIENT, REFRESH_1, T0 + 10),
        Refusal::DuplicateSecret,
    );
}

#[test]
fn rotate_unknown_refresh_token_is_refused_unchanged() {
    let (mut state, _) = with_family();
    assert_refused_unchanged(
        &mut state,
        &rotate([77u8; 32], CLIENT, REFRESH_2, T0 + 10),
        Refusal::UnknownRefreshToken,
    );
}

// ---------------------------------------------------------------------------------------------
// Races: concurrent attempts reach apply() one after the other, in log order
// ---------------------------------------------------------------------------------------------

#[test]
fn two_rotations_of_one_token_yield_exactly_one_grant() {
    let (mut state, family) = with_family();
    // Two nodes received the same refresh token at the same instant and proposed different
    // next digests; Raft orders the two commands.
    let first = state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));
    let second = state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_3, T0 + 10));

    assert!(matches!(first, Outcome::Granted { family: f, .. } if f == family));
    assert_eq!(
        second,
        Outcome::Refused(Refusal::RefreshReused {
            revoked_family: family
        })
    );
    assert_eq!(state.family(family), None);
}

#[test]
fn two_redemptions_of_one_code_yield_exactly_one_grant() {
    let mut state = with_code();
    let first = state.apply(&redeem(CODE, CLIENT, T0 + 1, REFRESH_1));
    let second = state.apply(&redeem(CODE, CLIENT, T0 + 1, REFRESH_2));

    let Outcome::Granted { family, .. } = first else {
        panic!("first attempt must win, got {first:?}");
    };
    assert_eq!(
        second,
        Outcome::Refused(Refusal::CodeReplayed {
            revoked_family: Some(family)
        })
    );
    assert_eq!(state.counts().refresh_families, 0);
}

// ---------------------------------------------------------------------------------------------
// EnsureSigningKey / SetSettings
// ---------------------------------------------------------------------------------------------

#[test]
fn ensure_signing_key_adds_the_first_key() {
    let mut state = State::default();
    let outcome = state.apply(&Command::EnsureSigningKey {
        key: signing_key("k1", T0),
    });
    assert_eq!(
        outcome,
        Outcome::SigningKey {
            key: signing_key("k1", T0),
            created: true
        }
    );
    assert_eq!(state.signing_keys(), [signing_key("k1", T0)]);
    assert_eq!(state.active_signing_key(T0), Some(&signing_key("k1", T0)));
}

#[test]
fn ensure_signing_key_keeps_the_existing_key() {
    let mut state = State::default();
    state.apply(&Command::EnsureSigningKey {
        key: signing_key("k1", T0),
    });
    let before = state.clone();
    let outcome = state.apply(&Command::EnsureSigningKey {
        key: signing_key("k2", T0 + 1),
    });
    assert_eq!(
        outcome,
        Outcome::SigningKey {
            key: signing_key("k1", T0),
            created: false
        }
    );
    assert_eq!(state, before);
}

#[test]
fn set_settings_replaces_the_settings() {
    let mut state = State::default();
    assert_eq!(state.settings(), &Settings::default());
    let first = Settings {
        resources: vec![RESOURCE.into(), "https://b.example/".into()],
        allowed_redirect_schemes: vec!["cursor".into()],
    };
    assert_eq!(
        state.apply(&Command::SetSettings {
            settings: first.clone()
        }),
        Outcome::Done
    );
    assert_eq!(state.settings(), &first);

    let second = Settings {
        resources: vec!["https://c.example/".into()],
        allowed_redirect_schemes: vec![],
    };
    state.apply(&Command::SetSettings {
        settings: second.clone(),
    });
    assert_eq!(state.settings(), &second);
}

// ---------------------------------------------------------------------------------------------
// Purge
// ---------------------------------------------------------------------------------------------

/// Purge instant and unclaimed-client TTL used by the purge tests.
const P: UnixTime = T0 + 10_000;
const CLIENT_TTL: u64 = 3_600;

fn purge(state: &mut State) -> PurgeCounts {
    match state.apply(&Command::Purge {
        audit: Default::default(),
        now: P,
        unclaimed_client_ttl: CLIENT_TTL,
    }) {
        Outcome::Purged(counts) => counts,
        other => panic!("expected Purged, got {other:?}"),
    }
}

/// A client that logged in long ago (so purge never reaps it for being unclaimed).
fn with_claimed_client() -> State {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    issue(&mut state, code([90u8; 32], CLIENT, T0 + CODE_TTL));
    granted(&mut state, &redeem([90u8; 32], CLIENT, T0 + 1, [91u8; 32]));
    // Drop the fixture's own code and family so the tests count only what they add.
    state.apply(&redeem([90u8; 32], CLIENT, T0 + 2, [92u8; 32]));
    purge(&mut state);
    assert_eq!(state.counts().codes, 0);
    assert_eq!(state.counts().refresh_families, 0);
    assert_eq!(state.counts().clients, 1);
    state
}

#[test]
fn purge_of_an_empty_state_removes_nothing() {
    let mut state = State::default();
    assert_eq!(purge(&mut state), PurgeCounts::default());
    assert_eq!(state, State::default());
}

#[test]
fn purge_with_nothing_expired_changes_nothing() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, P - 10));
    issue(&mut state, code(CODE, CLIENT, P + 1));
    state.apply(&Command::CreateSession {
        session: session([2u8; 32], P + 1),
        replaces: None,
    });
    let before = state.clone();
    assert_eq!(purge(&mut state), PurgeCounts::default());
    assert_eq!(state, before);
}

#[test]
fn purge_removes_codes_at_and_after_expiry_and_keeps_live_ones() {
    let mut state = with_claimed_client();
    issue(&mut state, code([1u8; 32], CLIENT, P - 1));
    issue(&mut state, code([2u8; 32], CLIENT, P));
    issue(&mut state, code([3u8; 32], CLIENT, P + 1));

    assert_eq!(purge(&mut state).codes, 2);
    assert_eq!(state.counts().codes, 1);
    // The live code still redeems; the purged ones are unknown.
    let mut late = state.clone();
    assert_eq!(
        late.apply(&redeem([2u8; 32], CLIENT, P, REFRESH_1)),
        Outcome::Refused(Refusal::UnknownCode)
    );
    granted(&mut state, &redeem([3u8; 32], CLIENT, P, REFRESH_1));
}

#[test]
fn purge_removes_expired_sessions_and_keeps_live_ones() {
    let mut state = State::default();
    for (id, expires_at) in [([1u8; 32], P - 1), ([2u8; 32], P), ([3u8; 32], P + 1)] {
        state.apply(&Command::CreateSession {
            session: session(id, expires_at),
            replaces: None,
        });
    }
    assert_eq!(purge(&mut state).sessions, 2);
    assert_eq!(state.session(&[1u8; 32]), None);
    assert_eq!(state.session(&[2u8; 32]), None);
    assert!(state.session(&[3u8; 32]).is_some());
}

#[test]
fn purge_removes_an_idle_family_and_its_tokens() {
    let mut state = with_claimed_client();
    issue(&mut state, code(CODE, CLIENT, P + 100));
    // Idle until exactly P.
    let family = granted(&mut state, &redeem(CODE, CLIENT, P - IDLE_TTL, REFRESH_1));

    let counts = purge(&mut state);
    assert_eq!(counts.families, 1);
    assert_eq!(counts.retired_refresh_tokens, 1);
    assert_eq!(state.family(family), None);
    assert_eq!(state.counts().refresh_tokens, 0);
}

#[test]
fn purge_keeps_a_live_family_and_its_current_token() {
    let mut state = with_claimed_client();
    issue(&mut state, code(CODE, CLIENT, P + 100));
    let family = granted(
        &mut state,
        &redeem(CODE, CLIENT, P - IDLE_TTL + 1, REFRESH_1),
    );

    let counts = purge(&mut state);
    assert_eq!((counts.families, counts.retired_refresh_tokens), (0, 0));
    assert!(state.family(family).is_some());
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, P));
}

#[test]
fn purge_drops_retired_digests_whose_expiry_passed() {
    let mut state = with_claimed_client();
    issue(&mut state, code(CODE, CLIENT, P + 100));
    // REFRESH_1 would have expired at P; it is rotated, so the family lives on with REFRESH_2.
    let family = granted(&mut state, &redeem(CODE, CLIENT, P - IDLE_TTL, REFRESH_1));
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, P - 10));

    let counts = purge(&mut state);
    assert_eq!(counts.retired_refresh_tokens, 1);
    assert_eq!(counts.families, 0);
    assert_eq!(state.counts().refresh_tokens, 1);
    assert_eq!(state.family(family).unwrap().current, REFRESH_2);
    // The purged digest is now simply unknown; it no longer revokes the family.
    assert_eq!(
        state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_3, P)),
        Outcome::Refused(Refusal::UnknownRefreshToken)
    );
    assert!(state.family(family).is_some());
}

#[test]
fn purge_keeps_retired_digests_until_their_expiry_so_reuse_is_still_detected() {
    let mut state = with_claimed_client();
    issue(&mut state, code(CODE, CLIENT, P + 100));
    let family = granted(&mut state, &redeem(CODE, CLIENT, P - 100, REFRESH_1));
    granted(&mut state, &rotate(REFRESH_1, CLIENT, REFRESH_2, P - 50));

    assert_eq!(purge(&mut state).retired_refresh_tokens, 0);
    assert_eq!(state.counts().refresh_tokens, 2);
    assert_eq!(
        state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_3, P)),
        Outcome::Refused(Refusal::RefreshReused {
            revoked_family: family
        })
    );
}

#[test]
fn purge_removes_an_unclaimed_client_older_than_the_ttl_and_its_consents() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, P - CLIENT_TTL));
    state.apply(&Command::GrantConsent {
        consent: consent(CLIENT, &["files:read"], P - CLIENT_TTL),
    });

    assert_eq!(purge(&mut state).clients, 1);
    assert_eq!(state.client(CLIENT), None);
    assert_eq!(state.consent(SUBJECT, CLIENT), None);
    assert_eq!(state.counts().consents, 0);
}

#[test]
fn purge_keeps_an_unclaimed_client_younger_than_the_ttl() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, P - CLIENT_TTL + 1));
    assert_eq!(purge(&mut state).clients, 0);
    assert!(state.client(CLIENT).is_some());
}

#[test]
fn purge_keeps_an_old_client_that_completed_a_login() {
    let mut state = with_claimed_client();
    state.apply(&Command::GrantConsent {
        consent: consent(CLIENT, &["files:read"], T0),
    });
    assert_eq!(state.client(CLIENT).unwrap().issued_at, T0);
    assert_eq!(purge(&mut state).clients, 0);
    assert!(state.client(CLIENT).is_some());
    assert!(state.consent(SUBJECT, CLIENT).is_some());
}

#[test]
fn purge_keeps_an_old_unclaimed_client_with_a_live_code() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    issue(&mut state, code(CODE, CLIENT, P + 1));
    assert_eq!(purge(&mut state).clients, 0);
    assert!(state.client(CLIENT).is_some());
    granted(&mut state, &redeem(CODE, CLIENT, P, REFRESH_1));
}

#[test]
fn purge_removes_an_old_unclaimed_client_whose_only_code_expired() {
    let mut state = State::default();
    register(&mut state, client(CLIENT, T0));
    issue(&mut state, code(CODE, CLIENT, P));
    let counts = purge(&mut state);
    assert_eq!((counts.codes, counts.clients), (1, 1));
    assert_eq!(state.client(CLIENT), None);
}

#[test]
fn purge_keeps_users_settings_and_signing_keys() {
    let mut state = State::default();
    state.apply(&Command::CreateUser {
        user: user("alice"),
    });
    state.apply(&Command::EnsureSigningKey {
        key: signing_key("k1", T0),
    });
    state.apply(&Command::SetSettings {
        settings: Settings {
            resources: vec![RESOURCE.into()],
            allowed_redirect_schemes: vec![],
        },
    });
    let before = state.clone();
    assert_eq!(purge(&mut state), PurgeCounts::default());
    assert_eq!(state, before);
}

#[test]
fn purge_counts_everything_it_removes_across_kinds() {
    let mut state = with_claimed_client();
    // Unclaimed clients: one past the TTL (with a consent), one kept by a live code.
    register(&mut state, client("stale", P - CLIENT_TTL - 1));
    register(&mut state, client("pending", T0));
    state.apply(&Command::GrantConsent {
        consent: consent("stale", &["a"], T0),
    });
    state.apply(&Command::GrantConsent {
        consent: consent(CLIENT, &["a"], T0),
    });
    issue(&mut state, code([40u8; 32], "pending", P + 60));
    // Codes: three of CLIENT that are expired by P (two redeemed into families below).
    issue(&mut state, code([41u8; 32], CLIENT, P - 1));
    issue(&mut state, code([42u8; 32], CLIENT, P - 1));
    issue(&mut state, code([43u8; 32], CLIENT, P));
    // A family idle at exactly P: removed with its one token.
    let dead = granted(
        &mut state,
        &redeem([41u8; 32], CLIENT, P - IDLE_TTL, [51u8; 32]),
    );
    // A live family with one retired token past its expiry and one current token.
    let live = granted(
        &mut state,
        &redeem([42u8; 32], CLIENT, P - IDLE_TTL, [52u8; 32]),
    );
    granted(&mut state, &rotate([52u8; 32], CLIENT, [53u8; 32], P - 5));
    // Sessions: one expired, one live.
    for (id, expires_at) in [([61u8; 32], P), ([62u8; 32], P + 1)] {
        state.apply(&Command::CreateSession {
            session: session(id, expires_at),
            replaces: None,
        });
    }

    assert_eq!(
        purge(&mut state),
        PurgeCounts {
            codes: 3,
            sessions: 1,
            families: 1,
            // The dead family's token and the live family's expired retired token.
            retired_refresh_tokens: 2,
            clients: 1,
            ..PurgeCounts::default()
        }
    );
    let counts = state.counts();
    assert_eq!(counts.clients, 2);
    assert_eq!(counts.codes, 1);
    assert_eq!(counts.sessions, 1);
    assert_eq!(counts.consents, 1);
    assert_eq!(counts.refresh_families, 1);
    assert_eq!(counts.refresh_tokens, 1);
    assert_eq!(state.family(dead), None);
    assert_eq!(state.family(live).unwrap().current, [53u8; 32]);
    assert!(state.client("pending").is_some());
    assert_eq!(state.client("stale"), None);
    assert_eq!(state.consent(SUBJECT, "stale"), None);
    assert!(state.consent(SUBJECT, CLIENT).is_some());
}

#[test]
fn purge_twice_at_the_same_instant_removes_nothing_the_second_time() {
    let mut state = with_claimed_client();
    issue(&mut state, code(CODE, CLIENT, P));
    purge(&mut state);
    let after_first = state.clone();
    assert_eq!(purge(&mut state), PurgeCounts::default());
    assert_eq!(state, after_first);
}

// ---------------------------------------------------------------------------------------------
// Determinism and the storage format
// ---------------------------------------------------------------------------------------------

/// A log that touches every command and several refusals.
fn sample_log() -> Vec<Command> {
    vec![
        Command::EnsureSigningKey {
            key: signing_key("k1", T0),
        },
        Command::SetSettings {
            settings: Settings {
                resources: vec![RESOURCE.into()],
                allowed_redirect_schemes: vec!["cursor".into()],
            },
        },
        Command::CreateUser {
            user: user("alice"),
        },
        Command::RegisterClient {
            client: client(CLIENT, T0),
        },
        Command::RegisterClient {
            client: client(OTHER_CLIENT, T0 - 100_000),
        },
        Command::RegisterClient {
            client: client(CLIENT, T0 + 1),
        },
        Command::CreateSession {
            session: session([2u8; 32], T0 + 500),
            replaces: None,
        },
        Command::CreateSession {
            session: session([3u8; 32], T0 + 900),
            replaces: Some([2u8; 32]),
        },
        Command::GrantConsent {
            consent: consent(CLIENT, &["files:write", "files:read"], T0),
        },
        Command::GrantConsent {
            consent: consent(OTHER_CLIENT, &["x"], T0),
        },
        Command::IssueCode {
            code: code(CODE, CLIENT, T0 + CODE_TTL),
        },
        Command::IssueCode {
            code: code([4u8; 32], CLIENT, T0 + CODE_TTL),
        },
        redeem(CODE, CLIENT, T0 + 2, REFRESH_1),
        rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 3),
        rotate_with_scope(REFRESH_2, REFRESH_3, T0 + 4, "files:read"),
        rotate(REFRESH_1, CLIENT, [30u8; 32], T0 + 5),
        redeem([4u8; 32], CLIENT, T0 + 6, [31u8; 32]),
        redeem([4u8; 32], CLIENT, T0 + 7, [32u8; 32]),
        Command::EndSession {
            id_digest: [3u8; 32],
        },
        Command::Purge {
            audit: Default::default(),
            now: T0 + 200,
            unclaimed_client_ttl: CLIENT_TTL,
        },
    ]
}

#[test]
fn same_log_on_two_fresh_states_gives_equal_states_outcomes_and_bytes() {
    let mut a = State::default();
    let mut b = State::default();
    let outcomes_a: Vec<Outcome> = sample_log().iter().map(|c| a.apply(c)).collect();
    let outcomes_b: Vec<Outcome> = sample_log().iter().map(|c| b.apply(c)).collect();

    assert_eq!(outcomes_a, outcomes_b);
    assert_eq!(a, b);
    assert_eq!(encode(&a).unwrap(), encode(&b).unwrap());
    // The log did something: it is not two empty states being compared.
    assert_ne!(a, State::default());
    assert!(outcomes_a
        .iter()
        .any(|o| matches!(o, Outcome::Granted { .. })));
    assert!(outcomes_a.iter().any(|o| matches!(o, Outcome::Refused(_))));
}

#[test]
fn state_round_trips_through_encode_and_decode() {
    let mut state = State::default();
    for command in sample_log() {
        state.apply(&command);
    }
    // Keep something in every map: a live family with a retired token, a live code.
    register(&mut state, client("late", T0 + 300));
    issue(&mut state, code([5u8; 32], "late", T0 + 400));
    issue(&mut state, code([6u8; 32], "late", T0 + 400));
    granted(&mut state, &redeem([6u8; 32], "late", T0 + 301, [33u8; 32]));
    granted(
        &mut state,
        &rotate([33u8; 32], "late", [34u8; 32], T0 + 302),
    );

    let bytes = encode(&state).unwrap();
    let decoded: State = decode(&bytes).unwrap();
    assert_eq!(decoded, state);
    assert_eq!(encode(&decoded).unwrap(), bytes);
}

#[test]
fn every_command_round_trips_through_encode_and_decode() {
    let mut commands = sample_log();
    commands.push(Command::RotateRefresh {
        presented: REFRESH_1,
        client_id: CLIENT.into(),
        resource: Some(RESOURCE.into()),
        scope: Some("files:read".into()),
        next: REFRESH_2,
        now: T0,
        idle_expires_at: T0 + IDLE_TTL,
        reuse: mcpauth_state::RefreshReuse::Strict,
    });
    for command in commands {
        let decoded: Command = decode(&encode(&command).unwrap()).unwrap();
        assert_eq!(decoded, command);
    }
}

#[test]
fn outcomes_round_trip_through_encode_and_decode() {
    let outcomes = [
        Outcome::Done,
        Outcome::Granted {
            family: 7,
            grant: grant(CLIENT, SUBJECT, SCOPE, RESOURCE, T0),
            claims: Some(Claims::default()),
        },
        Outcome::SigningKey {
            key: signing_key("k1", T0),
            created: true,
        },
        Outcome::Purged(PurgeCounts {
            codes: 1,
            sessions: 2,
            families: 3,
            retired_refresh_tokens: 4,
            clients: 5,
            ..PurgeCounts::default()
        }),
        Outcome::Refused(Refusal::CodeReplayed {
            revoked_family: Some(3),
        }),
        Outcome::Refused(Refusal::RefreshReused { revoked_family: 4 }),
    ];
    for outcome in outcomes {
        let decoded: Outcome = decode(&encode(&outcome).unwrap()).unwrap();
        assert_eq!(decoded, outcome);
    }
}

/// The command enum is a storage format (DESIGN.md, invariant 4): bincode writes a variant's
/// position as a little-endian u32, so reordering or inserting variants would silently change
/// the meaning of existing log entries. This pins every variant's tag.
#[test]
fn command_variant_tags_are_stable() {
    let one_of_each = [
        (
            0u32,
            Command::RegisterClient {
                client: client(CLIENT, T0),
            },
        ),
        (
            1,
            Command::CreateUser {
                user: user("alice"),
            },
        ),
        (
            2,
            Command::CreateSession {
                session: session([2u8; 32], T0),
                replaces: None,
            },
        ),
        (
            3,
            Command::EndSession {
                id_digest: [2u8; 32],
            },
        ),
        (
            4,
            Command::GrantConsent {
                consent: consent(CLIENT, &["a"], T0),
            },
        ),
        (
            5,
            Command::IssueCode {
                code: code(CODE, CLIENT, T0),
            },
        ),
        (6, redeem(CODE, CLIENT, T0, REFRESH_1)),
        (7, rotate(REFRESH_1, CLIENT, REFRESH_2, T0)),
        (
            8,
            Command::EnsureSigningKey {
                key: signing_key("k1", T0),
            },
        ),
        (
            9,
            Command::SetSettings {
                settings: Settings::default(),
            },
        ),
        (
            10,
            Command::Purge {
                audit: Default::default(),
                now: T0,
                unclaimed_client_ttl: 0,
            },
        ),
    ];
    for (tag, command) in one_of_each {
        let bytes = encode(&command).unwrap();
        assert_eq!(bytes[..4], tag.to_le_bytes(), "tag of {}", command.kind());
    }
}

#[test]
fn command_kinds_are_distinct_names() {
    let kinds: std::collections::BTreeSet<&str> = sample_log().iter().map(Command::kind).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "create_session",
            "create_user",
            "end_session",
            "ensure_signing_key",
            "grant_consent",
            "issue_code",
            "purge",
            "redeem_code",
            "register_client",
            "rotate_refresh",
            "set_settings",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Retried proposals: the same attempt applied twice answers as the first time
// ---------------------------------------------------------------------------------------------

#[test]
fn a_retried_registration_user_session_or_code_is_done_not_refused() {
    let mut state = State::default();
    let c = client(CLIENT, T0);
    for command in [
        Command::RegisterClient { client: c.clone() },
        Command::CreateUser {
            user: user("alice"),
        },
        Command::CreateSession {
            session: session([9u8; 32], T0 + 60),
            replaces: None,
        },
        Command::IssueCode {
            code: code(CODE, CLIENT, T0 + CODE_TTL),
        },
    ] {
        assert_eq!(state.apply(&command), Outcome::Done, "{command:?}");
        let after_first = state.clone();
        assert_eq!(state.apply(&command), Outcome::Done, "retry of {command:?}");
        assert_eq!(state, after_first, "a retry changes nothing");
    }
}

#[test]
fn a_retried_redemption_gets_the_same_grant_and_revokes_nothing() {
    let mut state = with_code();
    let first = state.apply(&redeem(CODE, CLIENT, T0 + 1, REFRESH_1));
    let after_first = state.clone();
    assert_eq!(state.apply(&redeem(CODE, CLIENT, T0 + 2, REFRESH_1)), first);
    assert_eq!(state, after_first);
    // A different attempt (another refresh digest) is a replay, and revokes.
    let outcome = state.apply(&redeem(CODE, CLIENT, T0 + 3, REFRESH_2));
    assert!(matches!(
        outcome,
        Outcome::Refused(Refusal::CodeReplayed {
            revoked_family: Some(_)
        })
    ));
}

#[test]
fn a_retried_rotation_gets_the_same_grant_and_revokes_nothing() {
    let (mut state, family) = with_family();
    let first = state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 10));
    assert!(matches!(first, Outcome::Granted { family: f, .. } if f == family));
    let after_first = state.clone();
    assert_eq!(
        state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 11)),
        first
    );
    assert_eq!(state, after_first);
    // Once the successor itself rotated, the old attempt is reuse again.
    granted(&mut state, &rotate(REFRESH_2, CLIENT, REFRESH_3, T0 + 12));
    let outcome = state.apply(&rotate(REFRESH_1, CLIENT, REFRESH_2, T0 + 13));
    assert_eq!(
        outcome,
        Outcome::Refused(Refusal::RefreshReused {
            revoked_family: family
        })
    );
}

#[test]
fn a_family_remembers_only_its_most_recent_retired_tokens() {
    let (mut state, family) = with_family();
    let digest = |i: u8| [100 + i; 32];
    let mut presented = REFRESH_1;
    for i in 0..20u8 {
        granted(
            &mut state,
            &rotate(presented, CLIENT, digest(i), T0 + 10 + u64::from(i)),
        );
        presented = digest(i);
    }
    // 21 tokens were issued; the index holds the current one and the 16 most recent retired.
    assert_eq!(
        state.counts().refresh_tokens,
        1 + mcpauth_state::RETIRED_KEPT
    );
    assert_eq!(
        state.family(family).unwrap().retired.len(),
        mcpauth_state::RETIRED_KEPT
    );
    // The oldest are forgotten: unknown, and nothing is revoked.
    let before = state.clone();
    assert_eq!(
        state.apply(&rotate(REFRESH_1, CLIENT, [250u8; 32], T0 + 100)),
        Outcome::Refused(Refusal::UnknownRefreshToken)
    );
    assert_eq!(state, before);
    // A recent one is reuse, and revokes the family with every digest it indexed.
    assert_eq!(
        state.apply(&rotate(digest(10), CLIENT, [251u8; 32], T0 + 100)),
        Outcome::Refused(Refusal::RefreshReused {
            revoked_family: family
        })
    );
    assert_eq!(state.counts().refresh_tokens, 0);
    assert_eq!(state.counts().refresh_families, 0);
}

#[test]
fn a_batch_applies_its_commands_in_order_exactly_as_separate_entries() {
    let commands = vec![
        redeem(CODE, CLIENT, T0 + 1, REFRESH_1),
        redeem(CODE, CLIENT, T0 + 1, REFRESH_2),
        rotate(REFRESH_1, CLIENT, REFRESH_3, T0 + 2),
    ];
    let mut one_by_one = with_code();
    let separate: Vec<Outcome> = commands.iter().map(|c| one_by_one.apply(c)).collect();
    let mut batched = with_code();
    assert_eq!(
        batched.apply(&Command::Batch(commands)),
        Outcome::Batch(separate.clone())
    );
    assert_eq!(batched, one_by_one);
    assert!(matches!(separate[0], Outcome::Granted { .. }));
    assert!(matches!(
        separate[1],
        Outcome::Refused(Refusal::CodeReplayed { .. })
    ));
    // A nested batch is refused whole and changes nothing.
    let before = batched.clone();
    let nested = Command::Batch(vec![Command::Batch(vec![redeem(
        CODE, CLIENT, T0, REFRESH_3,
    )])]);
    assert_eq!(
        batched.apply(&nested),
        Outcome::Batch(vec![Outcome::Batch(vec![])])
    );
    assert_eq!(batched, before);
}
