//! The refresh policy in apply() (format 4): which second presentations of a rotated refresh
//! token are accepted under `Grace`, which are reuse, that `Strict` keeps RFC 9700 §4.14.2 to
//! the letter, and that a cluster below version 4 stays strict whatever the command says.
//! Time pinned; no clock, no randomness.

use mcpauth_state::{
    grant, AuthCode, Client, ClientMetadata, ClientOrigin, Command, Digest, Outcome, RefreshReuse,
    Refusal, State, UnixTime,
};

const T0: UnixTime = 1_800_000_000;
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1/callback";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const GRACE: RefreshReuse = RefreshReuse::Grace { secs: 60 };
const IDLE_TTL: u64 = 86_400;

/// A token digest named by a number, for readable sequences.
fn t(n: u8) -> Digest {
    [n; 32]
}

/// A cluster at `version` with one client and a family whose first refresh token is `t(1)`.
fn family_at(version: u32) -> State {
    let mut state = State::default();
    let setup = [
        Command::SetClusterVersion { version },
        Command::RegisterClient {
            client: Client {
                disabled: false,
                last_used_at: None,
                client_id: "app".into(),
                secret_digest: None,
                metadata: ClientMetadata {
                    redirect_uris: vec![REDIRECT.into()],
                    token_endpoint_auth_method: "none".into(),
                    ..ClientMetadata::default()
                },
                issued_at: T0,
                first_login_at: None,
                registration_token_digest: None,
                origin: ClientOrigin::Registered,
            },
        },
        Command::IssueCode {
            code: AuthCode {
                digest: [200; 32],
                grant: grant("app", "sub-alice", "mcp", RESOURCE, T0),
                redirect_uri: REDIRECT.into(),
                code_challenge: CHALLENGE.into(),
                expires_at: T0 + 60,
                redeemed_into: None,
            },
        },
    ];
    for command in setup {
        assert_eq!(state.apply(&command), Outcome::Done, "{}", command.kind());
    }
    let redeemed = state.apply(&Command::RedeemCode {
        digest: [200; 32],
        client_id: "app".into(),
        redirect_uri: REDIRECT.into(),
        verifier_challenge: CHALLENGE.into(),
        resource: None,
        now: T0,
        refresh_digest: t(1),
        refresh_idle_expires_at: T0 + IDLE_TTL,
    });
    assert!(matches!(redeemed, Outcome::Granted { .. }), "{redeemed:?}");
    state
}

fn rotate(presented: u8, next: u8, at: u64, reuse: RefreshReuse) -> Command {
    Command::RotateRefresh {
        presented: t(presented),
        client_id: "app".into(),
        resource: None,
        scope: None,
        next: t(next),
        now: T0 + at,
        idle_expires_at: T0 + at + IDLE_TTL,
        reuse,
    }
}

/// Rotate and expect a grant; returns the family it was granted from.
fn wins(state: &mut State, presented: u8, next: u8, at: u64, reuse: RefreshReuse) -> u64 {
    match state.apply(&rotate(presented, next, at, reuse)) {
        Outcome::Granted { family, .. } => family,
        other => panic!("t{presented} -> t{next} at +{at}: expected a grant, got {other:?}"),
    }
}

/// Rotate and expect the family revoked as reuse; nothing of the family may be left.
fn revoked(state: &mut State, presented: u8, next: u8, at: u64, reuse: RefreshReuse) {
    let outcome = state.apply(&rotate(presented, next, at, reuse));
    let Outcome::Refused(Refusal::RefreshReused { revoked_family }) = outcome else {
        panic!("t{presented} at +{at}: expected reuse, got {outcome:?}");
    };
    assert!(state.family(revoked_family).is_none());
    assert_eq!(
        state.counts().refresh_tokens,
        0,
        "every token of it is gone"
    );
}

#[test]
fn two_sessions_sharing_a_token_both_stay_signed_in_under_grace() {
    let mut state = family_at(4);
    // Both sessions present t1, minutes apart (well past the grace period).
    let family = wins(&mut state, 1, 2, 100, GRACE);
    assert_eq!(wins(&mut state, 1, 3, 400, GRACE), family);
    // Each then uses its own successor, and goes on rotating, interleaved, for a while.
    wins(&mut state, 2, 4, 1_000, GRACE);
    wins(&mut state, 3, 5, 1_300, GRACE);
    wins(&mut state, 4, 6, 2_000, GRACE);
    wins(&mut state, 5, 7, 2_300, GRACE);
    let current = state.family(family).expect("the family lives").current;
    assert_eq!(
        current,
        t(7),
        "the family moved to the newest presentation's successor"
    );
}

#[test]
fn a_rotated_token_after_its_successor_was_used_is_reuse_past_the_grace_period() {
    let mut state = family_at(4);
    wins(&mut state, 1, 2, 100, GRACE);
    wins(&mut state, 2, 3, 200, GRACE);
    // t1 again, days later: a token issued after it (t2) was used, and its grace has passed.
    revoked(&mut state, 1, 9, 3 * 86_400, GRACE);
}

#[test]
fn within_the_grace_period_a_rotated_token_is_accepted_even_after_its_successor_was_used() {
    let mut state = family_at(4);
    wins(&mut state, 1, 2, 100, GRACE);
    wins(&mut state, 2, 3, 120, GRACE);
    // t1 was rotated at +100: until +160 it is accepted again (a retry after a lost answer).
    wins(&mut state, 1, 4, 159, GRACE);
    // t2 was rotated at +120 and t4 (issued after it) was not used: accepted too.
    wins(&mut state, 2, 5, 1_000, GRACE);
    // t1 again later: past its grace, and t2 (issued after it) was used.
    revoked(&mut state, 1, 6, 2_000, GRACE);
}

#[test]
fn the_grace_period_ends_exactly_secs_after_the_rotation() {
    let mut state = family_at(4);
    wins(&mut state, 1, 2, 100, GRACE);
    wins(&mut state, 2, 3, 110, GRACE);
    revoked(&mut state, 1, 4, 160, GRACE);
}

#[test]
fn strict_revokes_on_the_second_presentation() {
    let mut state = family_at(4);
    wins(&mut state, 1, 2, 100, RefreshReuse::Strict);
    // Its successor unused and one second later: still reuse under strict.
    revoked(&mut state, 1, 3, 101, RefreshReuse::Strict);
}

#[test]
fn a_retried_rotation_is_answered_again_under_either_policy() {
    for reuse in [RefreshReuse::Strict, GRACE] {
        let mut state = family_at(4);
        let family = wins(&mut state, 1, 2, 100, reuse);
        let before = state.clone();
        // The same proposal again (same next digest): the first answer, nothing changed.
        assert_eq!(wins(&mut state, 1, 2, 100, reuse), family);
        assert_eq!(state, before, "{reuse:?}");
    }
}

#[test]
fn a_rotated_token_accepted_again_still_expires() {
    let mut state = family_at(4);
    wins(&mut state, 1, 2, 100, GRACE);
    // t1 expired at +IDLE_TTL (its own idle lifetime), its successor unused.
    let before = state.clone();
    assert_eq!(
        state.apply(&rotate(1, 3, IDLE_TTL + 1, GRACE)),
        Outcome::Refused(Refusal::RefreshExpired)
    );
    assert_eq!(state, before, "an expired presentation changes nothing");
}

#[test]
fn another_clients_presentation_of_a_rotated_token_is_refused_and_changes_nothing() {
    let mut state = family_at(4);
    wins(&mut state, 1, 2, 100, GRACE);
    let before = state.clone();
    let mut command = rotate(1, 3, 110, GRACE);
    if let Command::RotateRefresh { client_id, .. } = &mut command {
        *client_id = "other".into();
    }
    assert_eq!(
        state.apply(&command),
        Outcome::Refused(Refusal::RefreshClientMismatch)
    );
    assert_eq!(state, before);
}

#[test]
fn below_cluster_version_4_grace_is_not_applied() {
    let mut state = family_at(3);
    wins(&mut state, 1, 2, 100, GRACE);
    // A format-4 node proposed grace, but the cluster still runs format 3: strict, as the
    // format-3 members (which never see the policy) decide.
    revoked(&mut state, 1, 3, 101, GRACE);
}

#[test]
fn below_cluster_version_4_a_rotation_keeps_nothing_format_3_cannot_hold() {
    let mut state = family_at(3);
    wins(&mut state, 1, 2, 100, GRACE);
    // What a follower that installed a format-3 snapshot of this state holds.
    let (format, bytes) = mcpauth_state::format::encode_state(&state).unwrap();
    assert_eq!(format, 3);
    let mut snapshot = format.to_le_bytes().to_vec();
    snapshot.extend_from_slice(&bytes);
    let installed = mcpauth_state::format::decode_snapshot(&snapshot).unwrap();
    assert_eq!(installed, state);
}

#[test]
fn tokens_rotated_before_the_upgrade_to_4_stay_strict_after_it() {
    let mut state = family_at(3);
    wins(&mut state, 1, 2, 100, GRACE);
    assert_eq!(
        state.apply(&Command::SetClusterVersion { version: 4 }),
        Outcome::Done
    );
    // t1 was rotated under format 3's rules: no rotation instant, never accepted again.
    revoked(&mut state, 1, 3, 101, GRACE);
}
