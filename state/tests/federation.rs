//! Federated login through `State::apply`: identity providers, login settings, the one-time
//! seed, pending upstream logins, the SAML replay cache, federated sessions and profiles, and
//! what purge does with them. Time pinned, as in `apply.rs`.
//!
//! No clock and no randomness: instants are offsets from the fixed `T0`, and every digest is a
//! constant such as `[1u8; 32]`. Where a refusal must change nothing, the test compares a clone
//! of the state taken before the command with the state after it.

use mcpauth_state::{
    decode, encode, grant, AuthCode, Client, ClientMetadata, Command, Digest, IdentityProvider,
    LoginSettings, Outcome, PendingUpstream, Profile, PurgeCounts, Refusal, Sealed, Session, State,
    UnixTime,
};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The pinned "now" every test starts from.
const T0: UnixTime = 1_700_000_000;

const PROVIDER: &str = "corp";
const OTHER_PROVIDER: &str = "saml";
/// A federated subject, `{provider}:{upstream sub}`.
const SUBJECT: &str = "corp:alice";
const OTHER_SUBJECT: &str = "corp:bob";
const RETURN_TO: &str = "/authorize?client_id=client-a&state=xyz";

const STATE_1: Digest = [1u8; 32];
const STATE_2: Digest = [2u8; 32];
const BROWSER: Digest = [3u8; 32];
const CONSUMER_A: Digest = [21u8; 32];
const CONSUMER_B: Digest = [22u8; 32];
const CONSUMER_C: Digest = [23u8; 32];
const SESSION_1: Digest = [41u8; 32];
const SESSION_2: Digest = [42u8; 32];

const ASSERTION: &str = "_a1b2c3";

/// Lifetime of a pending upstream login, of an assertion and of a session in these tests.
const LOGIN_TTL: u64 = 600;
const ASSERTION_TTL: u64 = 300;
const SESSION_TTL: u64 = 3_600;

fn provider(id: &str, display_name: &str, updated_at: UnixTime) -> IdentityProvider {
    IdentityProvider {
        id: id.to_owned(),
        kind: "oidc".to_owned(),
        display_name: display_name.to_owned(),
        enabled: true,
        config_json: format!(r#"{{"issuer":"https://{id}.example.com"}}"#),
        sealed_secret: Some(Sealed {
            nonce: [7u8; 12],
            ciphertext: id.as_bytes().to_vec(),
        }),
        updated_at,
    }
}

/// A login sent to `provider_id` at `T0`, pending until `expires_at`, not consumed.
fn pending(provider_id: &str, expires_at: UnixTime) -> PendingUpstream {
    PendingUpstream {
        provider_id: provider_id.to_owned(),
        return_to: RETURN_TO.to_owned(),
        browser_digest: BROWSER,
        request_id: None,
        created_at: T0,
        expires_at,
        consumed_by: None,
    }
}

fn profile(subject: &str, email: &str, updated_at: UnixTime) -> Profile {
    Profile {
        subject: subject.to_owned(),
        provider_id: PROVIDER.to_owned(),
        email: Some(email.to_owned()),
        name: Some("Alice".to_owned()),
        groups: vec!["admins".to_owned(), "staff".to_owned()],
        updated_at,
    }
}

fn session(id_digest: Digest, subject: &str, expires_at: UnixTime) -> Session {
    Session {
        identity_provider: None,
        source: None,
        id_digest,
        subject: subject.to_owned(),
        username: subject.to_owned(),
        created_at: T0,
        expires_at,
    }
}

fn put(provider: IdentityProvider) -> Command {
    Command::PutIdentityProvider { provider }
}

fn begin(state_digest: Digest, pending: PendingUpstream) -> Command {
    Command::BeginUpstreamLogin {
        state_digest,
        pending,
    }
}

fn consume(state_digest: Digest, provider_id: &str, consumer: Digest, now: UnixTime) -> Command {
    Command::ConsumeUpstreamState {
        state_digest,
        provider_id: provider_id.to_owned(),
        consumer,
        now,
    }
}

/// Assertion `ASSERTION` of `PROVIDER`, valid until `expires_at`, presented at `now`.
fn assertion(expires_at: UnixTime, consumer: Digest, now: UnixTime) -> Command {
    Command::RecordAssertion {
        provider_id: PROVIDER.to_owned(),
        assertion_id: ASSERTION.to_owned(),
        expires_at,
        consumer,
        now,
    }
}

/// A federated login of `subject` into session `id`, with the profile `profile(subject, email, T0)`.
fn federated_login(
    id: Digest,
    subject: &str,
    email: &str,
    expires_at: UnixTime,
    replaces: Option<Digest>,
) -> Command {
    Command::CreateFederatedSession {
        session: session(id, subject, expires_at),
        profile: profile(subject, email, T0),
        replaces,
    }
}

fn apply_done(state: &mut State, command: &Command) {
    assert_eq!(state.apply(command), Outcome::Done, "{command:?}");
}

/// A state with `PROVIDER` configured.
fn with_provider() -> State {
    let mut state = State::default();
    apply_done(&mut state, &put(provider(PROVIDER, "Corp SSO", T0)));
    state
}

/// `with_provider()` with a login `STATE_1` sent to it, pending until `T0 + LOGIN_TTL`.
fn with_pending() -> State {
    let mut state = with_provider();
    apply_done(
        &mut state,
        &begin(STATE_1, pending(PROVIDER, T0 + LOGIN_TTL)),
    );
    state
}

/// `with_pending()` after `CONSUMER_A` consumed `STATE_1` at `T0 + 10`.
fn with_consumed() -> State {
    let mut state = with_pending();
    assert!(matches!(
        state.apply(&consume(STATE_1, PROVIDER, CONSUMER_A, T0 + 10)),
        Outcome::Upstream(_)
    ));
    state
}

/// `pending(PROVIDER, T0 + LOGIN_TTL)` as consumed by `consumer`.
fn consumed_by(consumer: Digest) -> PendingUpstream {
    PendingUpstream {
        consumed_by: Some(consumer),
        ..pending(PROVIDER, T0 + LOGIN_TTL)
    }
}

/// Apply `command`, expect `refusal`, and prove the state did not change.
fn assert_refused_unchanged(state: &mut State, command: &Command, refusal: Refusal) {
    let before = state.clone();
    assert_eq!(state.apply(command), Outcome::Refused(refusal));
    assert_eq!(*state, before, "a refusal must leave the state unchanged");
}

// ---------------------------------------------------------------------------------------------
// PutIdentityProvider
// ---------------------------------------------------------------------------------------------

#[test]
fn put_identity_provider_stores_it() {
    let state = with_provider();
    assert_eq!(
        state.federation().provider(PROVIDER),
        Some(&provider(PROVIDER, "Corp SSO", T0))
    );
    assert_eq!(state.counts().identity_providers, 1);
}

#[test]
fn put_identity_provider_with_an_existing_id_replaces_it() {
    let mut state = with_provider();
    let changed = IdentityProvider {
        enabled: false,
        sealed_secret: None,
        ..provider(PROVIDER, "Corp SSO (new)", T0 + 5)
    };
    apply_done(&mut state, &put(changed.clone()));
    assert_eq!(state.federation().provider(PROVIDER), Some(&changed));
    assert_eq!(state.counts().identity_providers, 1);
}

#[test]
fn put_identity_provider_keeps_the_other_providers() {
    let mut state = with_provider();
    apply_done(&mut state, &put(provider(OTHER_PROVIDER, "SAML", T0)));
    let ids: Vec<&str> = state
        .federation()
        .providers()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, [PROVIDER, OTHER_PROVIDER]);
}

// ---------------------------------------------------------------------------------------------
// DeleteIdentityProvider
// ---------------------------------------------------------------------------------------------

#[test]
fn delete_identity_provider_removes_it_and_keeps_the_others() {
    let mut state = with_provider();
    apply_done(&mut state, &put(provider(OTHER_PROVIDER, "SAML", T0)));
    apply_done(
        &mut state,
        &Command::DeleteIdentityProvider {
            id: PROVIDER.to_owned(),
        },
    );
    assert_eq!(state.federation().provider(PROVIDER), None);
    assert!(state.federation().provider(OTHER_PROVIDER).is_some());
    assert_eq!(state.counts().identity_providers, 1);
}

#[test]
fn delete_unknown_identity_provider_is_refused_unchanged() {
    let mut state = with_provider();
    assert_refused_unchanged(
        &mut state,
        &Command::DeleteIdentityProvider {
            id: OTHER_PROVIDER.to_owned(),
        },
        Refusal::UnknownIdentityProvider,
    );
}

/// Unlike `EndSession`, a delete is not idempotent: a retried proposal of a delete that took
/// effect is answered as unknown.
#[test]
fn a_second_delete_of_the_same_provider_is_refused() {
    let mut state = with_provider();
    let delete = Command::DeleteIdentityProvider {
        id: PROVIDER.to_owned(),
    };
    apply_done(&mut state, &delete);
    assert_refused_unchanged(&mut state, &delete, Refusal::UnknownIdentityProvider);
}

/// What the code does: the provider's pending logins stay, and can still be consumed (the api
/// must check that the provider still exists when the person comes back).
#[test]
fn deleting_a_provider_keeps_its_pending_logins() {
    let mut state = with_pending();
    apply_done(
        &mut state,
        &Command::DeleteIdentityProvider {
            id: PROVIDER.to_owned(),
        },
    );
    assert!(state.federation().pending(&STATE_1).is_some());
    assert_eq!(
        state.apply(&consume(STATE_1, PROVIDER, CONSUMER_A, T0 + 10)),
        Outcome::Upstream(consumed_by(CONSUMER_A))
    );
}

// ---------------------------------------------------------------------------------------------
// SetLoginSettings
// ---------------------------------------------------------------------------------------------

#[test]
fn login_settings_allow_local_login_by_default() {
    assert_eq!(
        State::default().federation().login_settings(),
        LoginSettings { local_login: true }
    );
}

#[test]
fn set_login_settings_replaces_them() {
    let mut state = State::default();
    let off = LoginSettings { local_login: false };
    apply_done(&mut state, &Command::SetLoginSettings { login: off });
    assert_eq!(state.federation().login_settings(), off);
    let on = LoginSettings { local_login: true };
    apply_done(&mut state, &Command::SetLoginSettings { login: on });
    assert_eq!(state.federation().login_settings(), on);
}

#[test]
fn set_login_settings_does_not_touch_providers_or_the_seed() {
    let mut state = with_provider();
    apply_done(
        &mut state,
        &Command::SetLoginSettings {
            login: LoginSettings { local_login: false },
        },
    );
    assert_eq!(state.counts().identity_providers, 1);
    assert!(!state.federation().seeded());
}

// ---------------------------------------------------------------------------------------------
// SeedIdentityProviders
// ---------------------------------------------------------------------------------------------

fn seed(providers: Vec<IdentityProvider>, login: Option<LoginSettings>) -> Command {
    Command::SeedIdentityProviders { providers, login }
}

#[test]
fn seed_stores_the_providers_and_login_settings_and_marks_the_state_seeded() {
    let mut state = State::default();
    assert!(!state.federation().seeded());
    let off = LoginSettings { local_login: false };
    apply_done(
        &mut state,
        &seed(
            vec![
                provider(PROVIDER, "Corp SSO", T0),
                provider(OTHER_PROVIDER, "SAML", T0),
            ],
            Some(off),
        ),
    );
    assert!(state.federation().seeded());
    assert_eq!(
        state.federation().provider(PROVIDER),
        Some(&provider(PROVIDER, "Corp SSO", T0))
    );
    assert_eq!(
        state.federation().provider(OTHER_PROVIDER),
        Some(&provider(OTHER_PROVIDER, "SAML", T0))
    );
    assert_eq!(state.federation().login_settings(), off);
}

#[test]
fn seed_without_login_settings_keeps_the_current_ones() {
    let mut state = State::default();
    let off = LoginSettings { local_login: false };
    apply_done(&mut state, &Command::SetLoginSettings { login: off });
    apply_done(
        &mut state,
        &seed(vec![provider(PROVIDER, "Corp SSO", T0)], None),
    );
    assert_eq!(state.federation().login_settings(), off);
}

#[test]
fn seed_with_no_providers_still_marks_the_state_seeded() {
    let mut state = State::default();
    apply_done(&mut state, &seed(vec![], None));
    assert!(state.federation().seeded());
    assert_eq!(state.counts().identity_providers, 0);
    assert_refused_unchanged(
        &mut state,
        &seed(vec![provider(PROVIDER, "Corp SSO", T0)], None),
        Refusal::AlreadySeeded,
    );
}

#[test]
fn a_second_seed_is_refused_unchanged() {
    let mut state = State::default();
    let first = seed(vec![provider(PROVIDER, "Corp SSO", T0)], None);
    apply_done(&mut state, &first);
    // Neither the same seed (another node's first start) nor a different one changes anything.
    assert_refused_unchanged(&mut state, &first, Refusal::AlreadySeeded);
    assert_refused_unchanged(
        &mut state,
        &seed(
            vec![provider(OTHER_PROVIDER, "SAML", T0 + 1)],
            Some(LoginSettings { local_login: false }),
        ),
        Refusal::AlreadySeeded,
    );
}

#[test]
fn a_second_seed_does_not_overwrite_a_provider_put_after_the_first() {
    let mut state = State::default();
    let seeded = seed(vec![provider(PROVIDER, "Corp SSO", T0)], None);
    apply_done(&mut state, &seeded);
    let changed = provider(PROVIDER, "Changed by the admin API", T0 + 100);
    apply_done(&mut state, &put(changed.clone()));
    assert_eq!(
        state.apply(&seeded),
        Outcome::Refused(Refusal::AlreadySeeded)
    );
    assert_eq!(state.federation().provider(PROVIDER), Some(&changed));
}

#[test]
fn a_second_seed_does_not_bring_back_a_provider_deleted_after_the_first() {
    let mut state = State::default();
    let seeded = seed(vec![provider(PROVIDER, "Corp SSO", T0)], None);
    apply_done(&mut state, &seeded);
    apply_done(
        &mut state,
        &Command::DeleteIdentityProvider {
            id: PROVIDER.to_owned(),
        },
    );
    assert_refused_unchanged(&mut state, &seeded, Refusal::AlreadySeeded);
    assert_eq!(state.federation().provider(PROVIDER), None);
}

// ---------------------------------------------------------------------------------------------
// BeginUpstreamLogin
// ---------------------------------------------------------------------------------------------

#[test]
fn begin_upstream_login_stores_the_pending_login() {
    let state = with_pending();
    assert_eq!(
        state.federation().pending(&STATE_1),
        Some(&pending(PROVIDER, T0 + LOGIN_TTL))
    );
    assert_eq!(state.counts().upstream_states, 1);
}

#[test]
fn begin_upstream_login_is_refused_unchanged_once_the_pending_logins_are_at_the_cap() {
    let mut state = with_provider();
    for i in 0..mcpauth_state::MAX_PENDING_UPSTREAM as u64 {
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&i.to_be_bytes());
        digest[31] = 0xEE;
        assert_eq!(
            state.apply(&begin(digest, pending(PROVIDER, T0 + LOGIN_TTL))),
            Outcome::Done
        );
    }
    assert_refused_unchanged(
        &mut state,
        &begin(STATE_1, pending(PROVIDER, T0 + LOGIN_TTL)),
        Refusal::TooManyPendingLogins,
    );
    // Once they expire and are purged, logins start again.
    state.apply(&Command::Purge {
        audit: Default::default(),
        now: T0 + LOGIN_TTL,
        unclaimed_client_ttl: u64::MAX,
    });
    assert_eq!(
        state.apply(&begin(STATE_1, pending(PROVIDER, T0 + 2 * LOGIN_TTL))),
        Outcome::Done
    );
}

#[test]
fn begin_upstream_login_for_an_unknown_provider_is_refused_unchanged() {
    let mut state = with_provider();
    assert_refused_unchanged(
        &mut state,
        &begin(STATE_1, pending(OTHER_PROVIDER, T0 + LOGIN_TTL)),
        Refusal::UnknownIdentityProvider,
    );
}

#[test]
fn begin_upstream_login_with_a_taken_digest_and_another_record_is_refused_unchanged() {
    let mut state = with_pending();
    assert_refused_unchanged(
        &mut state,
        &begin(STATE_1, pending(PROVIDER, T0 + LOGIN_TTL + 1)),
        Refusal::DuplicateSecret,
    );
    assert_eq!(
        state.federation().pending(&STATE_1),
        Some(&pending(PROVIDER, T0 + LOGIN_TTL))
    );
}

#[test]
fn a_retried_begin_with_the_identical_record_is_done_and_changes_nothing() {
    let mut state = with_pending();
    let before = state.clone();
    apply_done(
        &mut state,
        &begin(STATE_1, pending(PROVIDER, T0 + LOGIN_TTL)),
    );
    assert_eq!(state, before);
}

#[test]
fn begin_upstream_logins_with_distinct_digests_are_kept_apart() {
    let mut state = with_pending();
    apply_done(
        &mut state,
        &begin(STATE_2, pending(PROVIDER, T0 + LOGIN_TTL + 5)),
    );
    assert_eq!(state.counts().upstream_states, 2);
    assert_eq!(
        state.federation().pending(&STATE_2),
        Some(&pending(PROVIDER, T0 + LOGIN_TTL + 5))
    );
}

/// A begin that re-proposes a login already consumed is a different record (it has no
/// consumer), so it is refused rather than resetting the consumption.
#[test]
fn begin_cannot_reset_a_consumed_login() {
    let mut state = with_consumed();
    assert_refused_unchanged(
        &mut state,
        &begin(STATE_1, pending(PROVIDER, T0 + LOGIN_TTL)),
        Refusal::DuplicateSecret,
    );
}

// ---------------------------------------------------------------------------------------------
// ConsumeUpstreamState
// ---------------------------------------------------------------------------------------------

#[test]
fn consume_unknown_upstream_state_is_refused_unchanged() {
    let mut state = with_pending();
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_2, PROVIDER, CONSUMER_A, T0 + 10),
        Refusal::UnknownUpstreamState,
    );
}

#[test]
fn consume_at_exactly_the_expiry_is_refused_unchanged() {
    let mut state = with_pending();
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_1, PROVIDER, CONSUMER_A, T0 + LOGIN_TTL),
        Refusal::UpstreamStateExpired,
    );
}

#[test]
fn consume_after_the_expiry_is_refused_unchanged() {
    let mut state = with_pending();
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_1, PROVIDER, CONSUMER_A, T0 + LOGIN_TTL + 1),
        Refusal::UpstreamStateExpired,
    );
}

#[test]
fn consume_one_second_before_the_expiry_succeeds() {
    let mut state = with_pending();
    assert_eq!(
        state.apply(&consume(STATE_1, PROVIDER, CONSUMER_A, T0 + LOGIN_TTL - 1)),
        Outcome::Upstream(consumed_by(CONSUMER_A))
    );
}

#[test]
fn consume_for_another_provider_is_refused_unchanged() {
    let mut state = with_pending();
    apply_done(&mut state, &put(provider(OTHER_PROVIDER, "SAML", T0)));
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_1, OTHER_PROVIDER, CONSUMER_A, T0 + 10),
        Refusal::UpstreamStateMismatch,
    );
}

#[test]
fn consume_of_a_consumed_login_for_another_provider_is_a_mismatch() {
    let mut state = with_consumed();
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_1, OTHER_PROVIDER, CONSUMER_A, T0 + 11),
        Refusal::UpstreamStateMismatch,
    );
}

#[test]
fn the_first_consumer_wins_and_gets_the_pending_login_marked_with_its_consumer() {
    let mut state = with_pending();
    assert_eq!(
        state.apply(&consume(STATE_1, PROVIDER, CONSUMER_A, T0 + 10)),
        Outcome::Upstream(consumed_by(CONSUMER_A))
    );
    // Kept (until it expires) with its consumer, so any other consumer is refused.
    assert_eq!(
        state.federation().pending(&STATE_1),
        Some(&consumed_by(CONSUMER_A))
    );
    assert_eq!(state.counts().upstream_states, 1);
}

#[test]
fn a_retried_consume_by_the_same_consumer_gets_the_same_outcome_and_changes_nothing() {
    let mut state = with_pending();
    let first = state.apply(&consume(STATE_1, PROVIDER, CONSUMER_A, T0 + 10));
    let after_first = state.clone();
    assert_eq!(
        state.apply(&consume(STATE_1, PROVIDER, CONSUMER_A, T0 + 11)),
        first
    );
    assert_eq!(state, after_first);
}

#[test]
fn consume_by_another_consumer_after_the_first_is_refused_unchanged() {
    let mut state = with_consumed();
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_1, PROVIDER, CONSUMER_B, T0 + 11),
        Refusal::UpstreamStateUsed,
    );
}

/// What the code does: the winner's retry is answered from the consumed record, before the
/// expiry is judged, so it still gets the login after the expiry (until purge removes it).
#[test]
fn a_retried_consume_by_the_winner_after_the_expiry_still_gets_the_same_outcome() {
    let mut state = with_consumed();
    let before = state.clone();
    assert_eq!(
        state.apply(&consume(STATE_1, PROVIDER, CONSUMER_A, T0 + LOGIN_TTL + 50)),
        Outcome::Upstream(consumed_by(CONSUMER_A))
    );
    assert_eq!(state, before);
}

#[test]
fn consume_by_another_consumer_of_a_consumed_login_after_the_expiry_is_used_not_expired() {
    let mut state = with_consumed();
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_1, PROVIDER, CONSUMER_B, T0 + LOGIN_TTL + 50),
        Refusal::UpstreamStateUsed,
    );
}

#[test]
fn a_consumed_login_purged_after_its_expiry_is_unknown_even_to_the_winner() {
    let mut state = with_consumed();
    purge_at(&mut state, T0 + LOGIN_TTL);
    assert_refused_unchanged(
        &mut state,
        &consume(STATE_1, PROVIDER, CONSUMER_A, T0 + LOGIN_TTL + 1),
        Refusal::UnknownUpstreamState,
    );
}

#[test]
fn two_consumers_of_one_login_yield_exactly_one_upstream() {
    let mut state = with_pending();
    let outcomes: Vec<Outcome> = [CONSUMER_A, CONSUMER_B, CONSUMER_C]
        .into_iter()
        .map(|c| state.apply(&consume(STATE_1, PROVIDER, c, T0 + 10)))
        .collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Upstream(consumed_by(CONSUMER_A)),
            Outcome::Refused(Refusal::UpstreamStateUsed),
            Outcome::Refused(Refusal::UpstreamStateUsed),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// RecordAssertion
// ---------------------------------------------------------------------------------------------

/// A state where `CONSUMER_A` recorded `ASSERTION` at `T0`, valid until `T0 + ASSERTION_TTL`.
fn with_assertion() -> State {
    let mut state = State::default();
    apply_done(&mut state, &assertion(T0 + ASSERTION_TTL, CONSUMER_A, T0));
    state
}

#[test]
fn record_assertion_accepts_the_first_presentation_and_remembers_it() {
    let state = with_assertion();
    assert_eq!(state.counts().assertions, 1);
}

#[test]
fn an_assertion_replayed_by_another_consumer_before_its_expiry_is_refused_unchanged() {
    let mut state = with_assertion();
    assert_refused_unchanged(
        &mut state,
        &assertion(T0 + ASSERTION_TTL, CONSUMER_B, T0 + ASSERTION_TTL - 1),
        Refusal::AssertionReplayed,
    );
}

#[test]
fn a_retried_record_by_the_same_consumer_is_done_and_changes_nothing() {
    let mut state = with_assertion();
    let before = state.clone();
    apply_done(
        &mut state,
        &assertion(T0 + ASSERTION_TTL, CONSUMER_A, T0 + 1),
    );
    assert_eq!(state, before);
}

#[test]
fn a_retried_record_by_the_same_consumer_after_the_expiry_is_done_and_changes_nothing() {
    let mut state = with_assertion();
    let before = state.clone();
    apply_done(
        &mut state,
        &assertion(T0 + ASSERTION_TTL, CONSUMER_A, T0 + ASSERTION_TTL + 10),
    );
    assert_eq!(state, before);
}

#[test]
fn an_assertion_presented_by_a_new_consumer_at_exactly_its_expiry_is_accepted() {
    let mut state = with_assertion();
    apply_done(
        &mut state,
        &assertion(T0 + ASSERTION_TTL, CONSUMER_B, T0 + ASSERTION_TTL),
    );
    assert_eq!(state.counts().assertions, 1);
}

#[test]
fn an_assertion_accepted_again_after_its_expiry_belongs_to_the_new_consumer() {
    let mut state = with_assertion();
    let later = T0 + ASSERTION_TTL + 10;
    apply_done(
        &mut state,
        &assertion(later + ASSERTION_TTL, CONSUMER_B, later),
    );
    // The new consumer's retry is Done; the old one is now a replay, until the new expiry.
    apply_done(
        &mut state,
        &assertion(later + ASSERTION_TTL, CONSUMER_B, later + 1),
    );
    assert_refused_unchanged(
        &mut state,
        &assertion(later + ASSERTION_TTL, CONSUMER_A, later + 1),
        Refusal::AssertionReplayed,
    );
}

#[test]
fn the_same_assertion_id_from_another_provider_is_not_a_replay() {
    let mut state = with_assertion();
    apply_done(
        &mut state,
        &Command::RecordAssertion {
            provider_id: OTHER_PROVIDER.to_owned(),
            assertion_id: ASSERTION.to_owned(),
            expires_at: T0 + ASSERTION_TTL,
            consumer: CONSUMER_B,
            now: T0 + 1,
        },
    );
    assert_eq!(state.counts().assertions, 2);
}

#[test]
fn another_assertion_id_from_the_same_provider_is_not_a_replay() {
    let mut state = with_assertion();
    apply_done(
        &mut state,
        &Command::RecordAssertion {
            provider_id: PROVIDER.to_owned(),
            assertion_id: "_other".to_owned(),
            expires_at: T0 + ASSERTION_TTL,
            consumer: CONSUMER_B,
            now: T0 + 1,
        },
    );
    assert_eq!(state.counts().assertions, 2);
}

/// An assertion recorded with an expiry already past is remembered until `now` only (the api
/// refuses expired assertions before recording them).
#[test]
fn an_assertion_recorded_past_its_expiry_is_kept_until_now_only() {
    let mut state = State::default();
    apply_done(&mut state, &assertion(T0 - 5, CONSUMER_A, T0));
    assert_eq!(state.counts().assertions, 1);
    assert_eq!(purge_at(&mut state, T0).assertions, 1);
}

// ---------------------------------------------------------------------------------------------
// CreateFederatedSession
// ---------------------------------------------------------------------------------------------

#[test]
fn create_federated_session_creates_the_session_and_the_profile() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None),
    );
    assert_eq!(
        state.session(&SESSION_1),
        Some(&session(SESSION_1, SUBJECT, T0 + SESSION_TTL))
    );
    assert_eq!(
        state.federation().profile(SUBJECT),
        Some(&profile(SUBJECT, "alice@corp", T0))
    );
    assert_eq!(state.counts().sessions, 1);
    assert_eq!(state.counts().profiles, 1);
}

#[test]
fn create_federated_session_with_replaces_ends_the_replaced_session() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None),
    );
    apply_done(
        &mut state,
        &federated_login(
            SESSION_2,
            SUBJECT,
            "alice@corp",
            T0 + SESSION_TTL,
            Some(SESSION_1),
        ),
    );
    assert_eq!(state.session(&SESSION_1), None);
    assert!(state.session(&SESSION_2).is_some());
    assert_eq!(state.counts().sessions, 1);
}

#[test]
fn a_new_federated_login_refreshes_the_profile() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None),
    );
    let newer = Profile {
        groups: vec!["staff".to_owned()],
        ..profile(SUBJECT, "alice@new.corp", T0 + 100)
    };
    apply_done(
        &mut state,
        &Command::CreateFederatedSession {
            session: session(SESSION_2, SUBJECT, T0 + 100 + SESSION_TTL),
            profile: newer.clone(),
            replaces: None,
        },
    );
    assert_eq!(state.federation().profile(SUBJECT), Some(&newer));
    assert_eq!(state.counts().profiles, 1);
    assert_eq!(state.counts().sessions, 2);
}

#[test]
fn create_federated_session_keeps_profiles_per_subject() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None),
    );
    apply_done(
        &mut state,
        &federated_login(SESSION_2, OTHER_SUBJECT, "bob@corp", T0 + SESSION_TTL, None),
    );
    assert_eq!(
        state.federation().profile(SUBJECT),
        Some(&profile(SUBJECT, "alice@corp", T0))
    );
    assert_eq!(
        state.federation().profile(OTHER_SUBJECT),
        Some(&profile(OTHER_SUBJECT, "bob@corp", T0))
    );
}

#[test]
fn create_federated_session_with_a_taken_digest_and_another_record_is_refused_unchanged() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None),
    );
    apply_done(
        &mut state,
        &federated_login(SESSION_2, OTHER_SUBJECT, "bob@corp", T0 + SESSION_TTL, None),
    );
    // Another session under SESSION_2's digest, with a new profile for alice, replacing
    // SESSION_1: nothing of it happens, neither the profile nor the replacement.
    assert_refused_unchanged(
        &mut state,
        &federated_login(
            SESSION_2,
            SUBJECT,
            "alice@elsewhere",
            T0 + 2 * SESSION_TTL,
            Some(SESSION_1),
        ),
        Refusal::DuplicateSecret,
    );
    assert_eq!(
        state.federation().profile(SUBJECT),
        Some(&profile(SUBJECT, "alice@corp", T0))
    );
    assert!(state.session(&SESSION_1).is_some());
}

#[test]
fn a_retried_federated_session_is_done_and_changes_nothing() {
    let mut state = State::default();
    let login = federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None);
    apply_done(&mut state, &login);
    let after_first = state.clone();
    apply_done(&mut state, &login);
    assert_eq!(state, after_first);
}

#[test]
fn a_plain_session_under_the_same_digest_refuses_the_federated_one() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &Command::CreateSession {
            session: session(SESSION_1, "local-alice", T0 + SESSION_TTL),
            replaces: None,
        },
    );
    assert_refused_unchanged(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None),
        Refusal::DuplicateSecret,
    );
    assert_eq!(state.federation().profile(SUBJECT), None);
}

// ---------------------------------------------------------------------------------------------
// Purge
// ---------------------------------------------------------------------------------------------

/// Purge instant used by the purge tests.
const P: UnixTime = T0 + 10_000;

fn purge_at(state: &mut State, now: UnixTime) -> PurgeCounts {
    match state.apply(&Command::Purge {
        audit: Default::default(),
        now,
        unclaimed_client_ttl: 3_600,
    }) {
        Outcome::Purged(counts) => counts,
        other => panic!("expected Purged, got {other:?}"),
    }
}

fn purge(state: &mut State) -> PurgeCounts {
    purge_at(state, P)
}

const CLIENT: &str = "client-a";

fn client() -> Client {
    Client {
        disabled: false,
        last_used_at: None,
        client_id: CLIENT.to_owned(),
        secret_digest: None,
        metadata: ClientMetadata {
            redirect_uris: vec!["https://app.example.com/callback".to_owned()],
            token_endpoint_auth_method: "none".to_owned(),
            ..ClientMetadata::default()
        },
        issued_at: P - 10,
        first_login_at: None,
        registration_token_digest: None,
        origin: mcpauth_state::ClientOrigin::Registered,
    }
}

/// A code of `CLIENT` for `subject`, valid until `expires_at`.
fn code(digest: Digest, subject: &str, expires_at: UnixTime) -> AuthCode {
    AuthCode {
        digest,
        grant: grant(CLIENT, subject, "openid", "https://mcp.example.com/", T0),
        redirect_uri: "https://app.example.com/callback".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        expires_at,
        redeemed_into: None,
    }
}

/// Register `CLIENT`, issue a code for `subject` valid until `code_expires_at`.
fn issue_code(state: &mut State, subject: &str, code_expires_at: UnixTime) {
    apply_done(state, &Command::RegisterClient { client: client() });
    apply_done(
        state,
        &Command::IssueCode {
            code: code([80u8; 32], subject, code_expires_at),
        },
    );
}

/// A state where `subject` logged in (profile kept) with a session that expires at `P`, so
/// purge at `P` removes the session.
fn with_profile_and_expiring_session(subject: &str) -> State {
    let mut state = State::default();
    apply_done(
        &mut state,
        &federated_login(SESSION_1, subject, "alice@corp", P, None),
    );
    state
}

#[test]
fn purge_removes_pending_logins_at_and_after_expiry_and_keeps_live_ones() {
    let mut state = with_provider();
    apply_done(&mut state, &begin([51u8; 32], pending(PROVIDER, P - 1)));
    apply_done(&mut state, &begin([52u8; 32], pending(PROVIDER, P)));
    apply_done(&mut state, &begin([53u8; 32], pending(PROVIDER, P + 1)));
    assert_eq!(purge(&mut state).upstream_states, 2);
    assert_eq!(state.counts().upstream_states, 1);
    assert!(state.federation().pending(&[53u8; 32]).is_some());
}

#[test]
fn purge_removes_a_consumed_pending_login_only_at_its_expiry() {
    let mut state = with_consumed();
    assert_eq!(purge_at(&mut state, T0 + LOGIN_TTL - 1).upstream_states, 0);
    assert_eq!(
        state.federation().pending(&STATE_1),
        Some(&consumed_by(CONSUMER_A))
    );
    assert_eq!(purge_at(&mut state, T0 + LOGIN_TTL).upstream_states, 1);
    assert_eq!(state.federation().pending(&STATE_1), None);
}

#[test]
fn purge_removes_assertions_at_and_after_expiry_and_keeps_live_ones() {
    let mut state = State::default();
    for (id, expires_at) in [("_a", P - 1), ("_b", P), ("_c", P + 1)] {
        apply_done(
            &mut state,
            &Command::RecordAssertion {
                provider_id: PROVIDER.to_owned(),
                assertion_id: id.to_owned(),
                expires_at,
                consumer: CONSUMER_A,
                now: T0,
            },
        );
    }
    assert_eq!(purge(&mut state).assertions, 2);
    assert_eq!(state.counts().assertions, 1);
    // The live one is still a replay for another consumer.
    assert_refused_unchanged(
        &mut state,
        &Command::RecordAssertion {
            provider_id: PROVIDER.to_owned(),
            assertion_id: "_c".to_owned(),
            expires_at: P + 1,
            consumer: CONSUMER_B,
            now: P,
        },
        Refusal::AssertionReplayed,
    );
}

#[test]
fn purge_removes_a_profile_whose_subject_has_no_session_and_no_family() {
    let mut state = with_profile_and_expiring_session(SUBJECT);
    let counts = purge(&mut state);
    assert_eq!(counts.sessions, 1);
    assert_eq!(counts.profiles, 1);
    assert_eq!(state.federation().profile(SUBJECT), None);
}

#[test]
fn purge_removes_the_profile_of_a_subject_who_logged_out() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", P + SESSION_TTL, None),
    );
    apply_done(
        &mut state,
        &Command::EndSession {
            id_digest: SESSION_1,
        },
    );
    assert_eq!(purge(&mut state).profiles, 1);
    assert_eq!(state.federation().profile(SUBJECT), None);
}

#[test]
fn purge_keeps_the_profile_of_a_subject_with_a_live_session() {
    let mut state = with_profile_and_expiring_session(SUBJECT);
    // A second, live session of the same subject keeps the profile.
    apply_done(
        &mut state,
        &federated_login(SESSION_2, SUBJECT, "alice@corp", P + 1, None),
    );
    let counts = purge(&mut state);
    assert_eq!(counts.sessions, 1);
    assert_eq!(counts.profiles, 0);
    assert_eq!(
        state.federation().profile(SUBJECT),
        Some(&profile(SUBJECT, "alice@corp", T0))
    );
}

#[test]
fn purge_keeps_the_profile_of_a_subject_with_a_live_refresh_family() {
    let mut state = with_profile_and_expiring_session(SUBJECT);
    issue_code(&mut state, SUBJECT, P - 100 + 60);
    assert!(matches!(
        state.apply(&Command::RedeemCode {
            digest: [80u8; 32],
            client_id: CLIENT.to_owned(),
            redirect_uri: "https://app.example.com/callback".to_owned(),
            verifier_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            resource: None,
            now: P - 100,
            refresh_digest: [81u8; 32],
            refresh_idle_expires_at: P + 1,
        }),
        Outcome::Granted { .. }
    ));
    let counts = purge(&mut state);
    assert_eq!(counts.sessions, 1);
    assert_eq!(counts.codes, 1);
    assert_eq!(counts.profiles, 0);
    assert!(state.federation().profile(SUBJECT).is_some());
}

/// Regression: a code issued just before the subject's session ended (logout, or the session
/// expiring) is redeemed into a family afterwards; purge in between must not drop the profile
/// the tokens of that family carry.
#[test]
fn purge_keeps_the_profile_of_a_subject_with_a_live_code() {
    let mut state = with_profile_and_expiring_session(SUBJECT);
    issue_code(&mut state, SUBJECT, P + 30);
    let counts = purge(&mut state);
    assert_eq!(counts.sessions, 1);
    assert_eq!(counts.profiles, 0);
    assert!(state.federation().profile(SUBJECT).is_some());
}

#[test]
fn purge_removes_the_profile_once_the_subjects_code_expired_unredeemed() {
    let mut state = with_profile_and_expiring_session(SUBJECT);
    issue_code(&mut state, SUBJECT, P);
    let counts = purge(&mut state);
    assert_eq!(counts.codes, 1);
    assert_eq!(counts.profiles, 1);
    assert_eq!(state.federation().profile(SUBJECT), None);
}

#[test]
fn purge_keeps_providers_login_settings_and_the_seed() {
    let mut state = State::default();
    apply_done(
        &mut state,
        &seed(
            vec![provider(PROVIDER, "Corp SSO", T0)],
            Some(LoginSettings { local_login: false }),
        ),
    );
    let before = state.clone();
    assert_eq!(purge(&mut state), PurgeCounts::default());
    assert_eq!(state, before);
}

#[test]
fn purge_counts_every_federation_removal() {
    let mut state = with_provider();
    // Pending logins: two expired (one consumed), one live.
    apply_done(&mut state, &begin([51u8; 32], pending(PROVIDER, P - 1)));
    apply_done(&mut state, &begin([52u8; 32], pending(PROVIDER, P)));
    apply_done(&mut state, &begin([53u8; 32], pending(PROVIDER, P + 1)));
    state.apply(&consume([51u8; 32], PROVIDER, CONSUMER_A, T0));
    // Assertions: one expired, one live.
    apply_done(&mut state, &assertion(P, CONSUMER_A, T0));
    apply_done(
        &mut state,
        &Command::RecordAssertion {
            provider_id: PROVIDER.to_owned(),
            assertion_id: "_live".to_owned(),
            expires_at: P + 1,
            consumer: CONSUMER_A,
            now: T0,
        },
    );
    // Profiles: alice's only session expires at P; bob keeps a live session; carol logged out.
    apply_done(
        &mut state,
        &federated_login(SESSION_1, SUBJECT, "alice@corp", P, None),
    );
    apply_done(
        &mut state,
        &federated_login(SESSION_2, OTHER_SUBJECT, "bob@corp", P + 1, None),
    );
    apply_done(
        &mut state,
        &federated_login([43u8; 32], "corp:carol", "carol@corp", P + 1, None),
    );
    apply_done(
        &mut state,
        &Command::EndSession {
            id_digest: [43u8; 32],
        },
    );

    assert_eq!(
        purge(&mut state),
        PurgeCounts {
            sessions: 1,
            upstream_states: 2,
            assertions: 1,
            profiles: 2,
            ..PurgeCounts::default()
        }
    );
    let counts = state.counts();
    assert_eq!(counts.identity_providers, 1);
    assert_eq!(counts.upstream_states, 1);
    assert_eq!(counts.assertions, 1);
    assert_eq!(counts.profiles, 1);
    assert_eq!(counts.sessions, 1);
    assert!(state.federation().profile(OTHER_SUBJECT).is_some());
}

#[test]
fn purge_twice_at_the_same_instant_removes_nothing_the_second_time() {
    let mut state = with_profile_and_expiring_session(SUBJECT);
    apply_done(&mut state, &put(provider(PROVIDER, "Corp SSO", T0)));
    apply_done(&mut state, &begin(STATE_1, pending(PROVIDER, P)));
    apply_done(&mut state, &assertion(P, CONSUMER_A, T0));
    purge(&mut state);
    let after_first = state.clone();
    assert_eq!(purge(&mut state), PurgeCounts::default());
    assert_eq!(state, after_first);
}

// ---------------------------------------------------------------------------------------------
// Tagged and Batch
// ---------------------------------------------------------------------------------------------

/// Every new command, with refusals and retries among them, in an order that makes sense.
fn federation_log() -> Vec<Command> {
    vec![
        seed(
            vec![provider(PROVIDER, "Corp SSO", T0)],
            Some(LoginSettings { local_login: false }),
        ),
        seed(vec![provider(OTHER_PROVIDER, "SAML", T0)], None),
        put(provider(OTHER_PROVIDER, "SAML", T0 + 1)),
        put(provider(PROVIDER, "Corp SSO v2", T0 + 2)),
        Command::DeleteIdentityProvider {
            id: "nobody".to_owned(),
        },
        Command::SetLoginSettings {
            login: LoginSettings { local_login: true },
        },
        begin(STATE_1, pending(PROVIDER, T0 + LOGIN_TTL)),
        begin(STATE_1, pending(PROVIDER, T0 + LOGIN_TTL)),
        begin(STATE_1, pending(OTHER_PROVIDER, T0 + LOGIN_TTL)),
        begin(STATE_2, pending("nobody", T0 + LOGIN_TTL)),
        consume(STATE_1, OTHER_PROVIDER, CONSUMER_A, T0 + 5),
        consume(STATE_1, PROVIDER, CONSUMER_A, T0 + 5),
        consume(STATE_1, PROVIDER, CONSUMER_A, T0 + 6),
        consume(STATE_1, PROVIDER, CONSUMER_B, T0 + 6),
        consume(STATE_2, PROVIDER, CONSUMER_B, T0 + 6),
        assertion(T0 + ASSERTION_TTL, CONSUMER_A, T0 + 7),
        assertion(T0 + ASSERTION_TTL, CONSUMER_A, T0 + 8),
        assertion(T0 + ASSERTION_TTL, CONSUMER_B, T0 + 8),
        federated_login(SESSION_1, SUBJECT, "alice@corp", T0 + SESSION_TTL, None),
        federated_login(
            SESSION_1,
            SUBJECT,
            "alice@other",
            T0 + SESSION_TTL + 1,
            None,
        ),
        Command::DeleteIdentityProvider {
            id: OTHER_PROVIDER.to_owned(),
        },
    ]
}

#[test]
fn the_federation_log_has_outcomes_of_every_kind() {
    let mut state = State::default();
    let outcomes: Vec<Outcome> = federation_log().iter().map(|c| state.apply(c)).collect();
    let refused = |r: Refusal| outcomes.contains(&Outcome::Refused(r));
    assert!(outcomes.contains(&Outcome::Done));
    assert!(outcomes.contains(&Outcome::Upstream(consumed_by(CONSUMER_A))));
    for refusal in [
        Refusal::AlreadySeeded,
        Refusal::UnknownIdentityProvider,
        Refusal::DuplicateSecret,
        Refusal::UpstreamStateMismatch,
        Refusal::UpstreamStateUsed,
        Refusal::UnknownUpstreamState,
        Refusal::AssertionReplayed,
    ] {
        assert!(refused(refusal.clone()), "{refusal:?} not exercised");
    }
}

#[test]
fn tagged_federation_commands_apply_as_the_bare_command() {
    let mut bare = State::default();
    let mut tagged = State::default();
    for (attempt, command) in (1u64..).zip(federation_log()) {
        let expected = bare.apply(&command);
        let outcome = tagged.apply(&Command::Tagged {
            attempt,
            command: Box::new(command.clone()),
        });
        assert_eq!(outcome, expected, "{command:?}");
        assert_eq!(tagged, bare, "after {command:?}");
    }
}

#[test]
fn a_batch_of_federation_commands_applies_exactly_as_separate_entries() {
    let mut one_by_one = State::default();
    let separate: Vec<Outcome> = federation_log()
        .iter()
        .map(|c| one_by_one.apply(c))
        .collect();
    let mut batched = State::default();
    assert_eq!(
        batched.apply(&Command::Batch(federation_log())),
        Outcome::Batch(separate)
    );
    assert_eq!(batched, one_by_one);
}

#[test]
fn a_batch_of_tagged_federation_commands_applies_exactly_as_separate_entries() {
    let mut one_by_one = State::default();
    let separate: Vec<Outcome> = federation_log()
        .iter()
        .map(|c| one_by_one.apply(c))
        .collect();
    let tagged: Vec<Command> = (1u64..)
        .zip(federation_log())
        .map(|(attempt, command)| Command::Tagged {
            attempt,
            command: Box::new(command),
        })
        .collect();
    let mut batched = State::default();
    assert_eq!(
        batched.apply(&Command::Batch(tagged)),
        Outcome::Batch(separate)
    );
    assert_eq!(batched, one_by_one);
}

#[test]
fn tagged_keeps_the_kind_of_the_federation_command() {
    for command in federation_log() {
        let kind = command.kind();
        let tagged = Command::Tagged {
            attempt: 9,
            command: Box::new(command),
        };
        assert_eq!(tagged.kind(), kind);
    }
}

// ---------------------------------------------------------------------------------------------
// Determinism and the storage format
// ---------------------------------------------------------------------------------------------

#[test]
fn every_federation_command_round_trips_through_encode_and_decode() {
    let mut commands = federation_log();
    commands.push(begin(
        STATE_2,
        PendingUpstream {
            request_id: Some("_req-1".to_owned()),
            consumed_by: Some(CONSUMER_B),
            ..pending(OTHER_PROVIDER, T0 + LOGIN_TTL)
        },
    ));
    commands.push(put(IdentityProvider {
        sealed_secret: None,
        ..provider("ldap", "Directory", T0)
    }));
    commands.push(Command::CreateFederatedSession {
        session: session(SESSION_2, SUBJECT, T0 + 1),
        profile: Profile {
            email: None,
            name: None,
            groups: vec![],
            ..profile(SUBJECT, "", T0)
        },
        replaces: Some(SESSION_1),
    });
    commands.push(Command::Tagged {
        attempt: 42,
        command: Box::new(consume(STATE_1, PROVIDER, CONSUMER_A, T0)),
    });
    commands.push(Command::Batch(federation_log()));
    for command in commands {
        let decoded: Command = decode(&encode(&command).unwrap()).unwrap();
        assert_eq!(decoded, command);
    }
}

#[test]
fn federation_outcomes_round_trip_through_encode_and_decode() {
    let mut outcomes = vec![
        Outcome::Upstream(consumed_by(CONSUMER_A)),
        Outcome::Purged(PurgeCounts {
            audit_events: 0,
            access_denials: 0,
            codes: 1,
            sessions: 2,
            families: 3,
            retired_refresh_tokens: 4,
            clients: 5,
            upstream_states: 6,
            assertions: 7,
            profiles: 8,
        }),
    ];
    outcomes.extend(
        [
            Refusal::UnknownIdentityProvider,
            Refusal::AlreadySeeded,
            Refusal::UnknownUpstreamState,
            Refusal::UpstreamStateExpired,
            Refusal::UpstreamStateMismatch,
            Refusal::UpstreamStateUsed,
            Refusal::AssertionReplayed,
        ]
        .map(Outcome::Refused),
    );
    for outcome in outcomes {
        let decoded: Outcome = decode(&encode(&outcome).unwrap()).unwrap();
        assert_eq!(decoded, outcome);
    }
}

#[test]
fn same_federation_log_on_two_fresh_states_gives_equal_states_and_bytes() {
    let mut a = State::default();
    let mut b = State::default();
    let outcomes_a: Vec<Outcome> = federation_log().iter().map(|c| a.apply(c)).collect();
    let outcomes_b: Vec<Outcome> = federation_log().iter().map(|c| b.apply(c)).collect();
    assert_eq!(outcomes_a, outcomes_b);
    assert_eq!(a, b);
    assert_eq!(encode(&a).unwrap(), encode(&b).unwrap());
}

#[test]
fn a_state_with_federation_data_round_trips_through_encode_and_decode() {
    let mut state = State::default();
    for command in federation_log() {
        state.apply(&command);
    }
    // Something in every federation map.
    let counts = state.counts();
    assert!(counts.identity_providers > 0);
    assert!(counts.upstream_states > 0);
    assert!(counts.assertions > 0);
    assert!(counts.profiles > 0);
    assert!(state.federation().seeded());

    let bytes = encode(&state).unwrap();
    let decoded: State = decode(&bytes).unwrap();
    assert_eq!(decoded, state);
    assert_eq!(encode(&decoded).unwrap(), bytes);
}

/// The command enum is a storage format: the new variants come after `Tagged` (12), in this
/// order, and must stay there.
#[test]
fn federation_command_variant_tags_are_stable() {
    let one_of_each = [
        (13u32, put(provider(PROVIDER, "Corp SSO", T0))),
        (
            14,
            Command::DeleteIdentityProvider {
                id: PROVIDER.to_owned(),
            },
        ),
        (
            15,
            Command::SetLoginSettings {
                login: LoginSettings::default(),
            },
        ),
        (16, seed(vec![], None)),
        (17, begin(STATE_1, pending(PROVIDER, T0))),
        (18, consume(STATE_1, PROVIDER, CONSUMER_A, T0)),
        (19, assertion(T0, CONSUMER_A, T0)),
        (20, federated_login(SESSION_1, SUBJECT, "a@b", T0, None)),
    ];
    for (tag, command) in one_of_each {
        let bytes = encode(&command).unwrap();
        assert_eq!(bytes[..4], tag.to_le_bytes(), "tag of {}", command.kind());
    }
}

#[test]
fn federation_command_kinds_are_distinct_names() {
    let kinds: std::collections::BTreeSet<&str> =
        federation_log().iter().map(Command::kind).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "begin_upstream_login",
            "consume_upstream_state",
            "create_federated_session",
            "delete_identity_provider",
            "put_identity_provider",
            "record_assertion",
            "seed_identity_providers",
            "set_login_settings",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// provider_allows: switching a provider off ends access through it
// ---------------------------------------------------------------------------------------------

#[test]
fn a_federated_subject_is_allowed_only_while_its_provider_is_enabled() {
    let mut state = with_provider();
    apply_done(
        &mut state,
        &federated_login([9; 32], SUBJECT, "alice@example.test", T0 + 3600, None),
    );
    assert!(state.federation().provider_allows(SUBJECT));
    // A subject without a profile is a local account: always allowed.
    assert!(state.federation().provider_allows("admin"));

    let mut off = provider(PROVIDER, "Corp", T0 + 1);
    off.enabled = false;
    apply_done(&mut state, &put(off));
    assert!(!state.federation().provider_allows(SUBJECT));
    assert!(state.federation().provider_allows("admin"));

    apply_done(&mut state, &put(provider(PROVIDER, "Corp", T0 + 2)));
    assert!(state.federation().provider_allows(SUBJECT));

    apply_done(
        &mut state,
        &Command::DeleteIdentityProvider {
            id: PROVIDER.to_owned(),
        },
    );
    assert!(!state.federation().provider_allows(SUBJECT));
}
