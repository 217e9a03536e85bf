// The commands format 5 added, and the rules it changed, for the golden sample of format 5:
// the fixture is the cluster version raised to 5, then format 2's and format 4's samples (every
// command before format 5, under format 5's rules), then these. They exercise roles and the
// admin's changes to users (with the last-admin refusal), a disabled client refused a code and
// a refresh, every way of ending access (one session, one grant, a subject, a client) with the
// access-token denials they leave, audited commands (a grant, a refusal, detected reuse), a
// recorded event, the runtime configuration set, refused when stale, rolled back, and a purge
// that trims the audit trail. See sample_format1.rs for the rules of these files.
//
// Expects in scope: the model's names, and `format4_commands()` (format 4's sample in the model).

fn sample_format5_additions() -> Vec<Command> {
    const T5: u64 = 1_900_000_000;
    let client = |client_id: &str| Client {
        client_id: client_id.to_owned(),
        secret_digest: None,
        metadata: ClientMetadata {
            redirect_uris: vec!["http://127.0.0.1/callback".to_owned()],
            token_endpoint_auth_method: "none".to_owned(),
            grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
            response_types: vec!["code".to_owned()],
            client_name: Some(format!("{client_id} app")),
            client_uri: None,
            logo_uri: None,
            scope: None,
            contacts: vec![],
            tos_uri: None,
            policy_uri: None,
            software_id: None,
            software_version: None,
            application_type: Some("native".to_owned()),
        },
        issued_at: T5,
        first_login_at: None,
        registration_token_digest: Some([90; 32]),
        origin: ClientOrigin::Registered,
        disabled: false,
        last_used_at: None,
    };
    let user = |username: &str, roles: Vec<Role>| User {
        username: username.to_owned(),
        subject: format!("sub-{username}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at: T5,
        disabled: false,
        roles,
        must_change_password: false,
    };
    let session = |fill: u8, username: &str, provider: Option<&str>| Session {
        id_digest: [fill; 32],
        subject: format!("sub-{username}"),
        username: username.to_owned(),
        created_at: T5,
        expires_at: T5 + 43_200,
        identity_provider: provider.map(str::to_owned),
        source: Some("192.0.2.7".to_owned()),
    };
    let code = |digest: [u8; 32], client_id: &str, username: &str| Command::IssueCode {
        code: AuthCode {
            digest,
            grant: Grant {
                client_id: client_id.to_owned(),
                subject: format!("sub-{username}"),
                scope: "mcp".to_owned(),
                resource: "https://mcp.example.com/mcp".to_owned(),
                auth_time: T5,
            },
            redirect_uri: "http://127.0.0.1/callback".to_owned(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            expires_at: T5 + 60,
            redeemed_into: None,
        },
    };
    let redeem = |digest: [u8; 32], client_id: &str, refresh: [u8; 32]| Command::RedeemCode {
        digest,
        client_id: client_id.to_owned(),
        redirect_uri: "http://127.0.0.1/callback".to_owned(),
        verifier_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        resource: None,
        now: T5 + 1,
        refresh_digest: refresh,
        refresh_idle_expires_at: T5 + 1 + 2_592_000,
    };
    let rotate = |client_id: &str, presented: [u8; 32], next: [u8; 32], now: u64| {
        Command::RotateRefresh {
            presented,
            client_id: client_id.to_owned(),
            resource: None,
            scope: None,
            next,
            now,
            idle_expires_at: now + 2_592_000,
            reuse: RefreshReuse::Strict,
        }
    };
    let context = |at: u64, kind: &str, actor: Option<&str>| AuditContext {
        at,
        kind: kind.to_owned(),
        actor: actor.map(str::to_owned),
        client_id: Some("app-5".to_owned()),
        source: Some("192.0.2.7".to_owned()),
        identity_provider: None,
        details: vec![("grant_type".to_owned(), "refresh_token".to_owned())],
    };
    let audited = |at: u64, kind: &str, command: Command| Command::Audited {
        context: context(at, kind, None),
        command: Box::new(command),
    };
    let config = |json: &str, at: u64| RuntimeConfig {
        version: 0,
        config_json: json.to_owned(),
        updated_at: at,
        updated_by: "sub-erin".to_owned(),
    };
    let ended = |now: u64| (now, now + 3_600);
    vec![
        Command::RegisterClient {
            client: client("app-5"),
        },
        Command::RegisterClient {
            client: client("other-5"),
        },
        Command::CreateUser {
            user: user("erin", vec![Role::Admin]),
        },
        Command::CreateUser {
            user: user("fred", vec![Role::Auditor]),
        },
        Command::CreateSession {
            session: session(91, "fred", None),
            replaces: None,
        },
        Command::CreateSession {
            session: session(92, "fred", Some("corp")),
            replaces: None,
        },
        // Roles, a required password change cleared by setting one.
        Command::UpdateUser {
            username: "fred".to_owned(),
            change: UserChange::Roles(vec![Role::Auditor, Role::Admin, Role::Auditor]),
            now: T5 + 2,
            deny_access_until: T5 + 3_602,
        },
        Command::UpdateUser {
            username: "fred".to_owned(),
            change: UserChange::RequirePasswordChange,
            now: T5 + 3,
            deny_access_until: T5 + 3_603,
        },
        Command::SetUserPassword {
            username: "fred".to_owned(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDM$aGFzaDM".to_owned(),
        },
        // A grant for fred, audited; then a refresh with the client disabled is refused.
        code([93; 32], "app-5", "fred"),
        audited(T5 + 1, "token.issued", redeem([93; 32], "app-5", [94; 32])),
        Command::SetClientDisabled {
            client_id: "app-5".to_owned(),
            disabled: true,
        },
        audited(T5 + 5, "token.refreshed", rotate("app-5", [94; 32], [95; 32], T5 + 5)),
        code([96; 32], "app-5", "fred"),
        Command::SetClientDisabled {
            client_id: "no-such-app".to_owned(),
            disabled: true,
        },
        Command::SetClientDisabled {
            client_id: "app-5".to_owned(),
            disabled: false,
        },
        // Rotated, then the rotated token again: reuse, recorded as such.
        audited(T5 + 6, "token.refreshed", rotate("app-5", [94; 32], [95; 32], T5 + 6)),
        audited(T5 + 7, "token.refreshed", rotate("app-5", [94; 32], [97; 32], T5 + 7)),
        Command::RecordAudit {
            context: context(T5 + 8, "login.failed", Some("mallory")),
            outcome: AuditOutcome::Failure {
                reason: "invalid_credentials".to_owned(),
            },
        },
        // Ending access in every way.
        code([98; 32], "other-5", "erin"),
        redeem([98; 32], "other-5", [99; 32]),
        code([100; 32], "app-5", "erin"),
        redeem([100; 32], "app-5", [101; 32]),
        Command::RevokeAccess {
            target: AccessTarget::Session([91; 32]),
            now: T5 + 10,
            deny_access_until: T5 + 3_610,
        },
        Command::RevokeAccess {
            target: AccessTarget::Session([91; 32]),
            now: T5 + 10,
            deny_access_until: T5 + 3_610,
        },
        Command::RevokeAccess {
            target: AccessTarget::Family(1_000),
            now: T5 + 11,
            deny_access_until: T5 + 3_611,
        },
        Command::RevokeAccess {
            target: AccessTarget::Client("other-5".to_owned()),
            now: ended(T5 + 12).0,
            deny_access_until: ended(T5 + 12).1,
        },
        Command::RevokeAccess {
            target: AccessTarget::Subject("sub-erin".to_owned()),
            now: ended(T5 + 13).0,
            deny_access_until: ended(T5 + 13).1,
        },
        // erin and fred are both admins: fred may be switched off, erin then not deleted.
        Command::UpdateUser {
            username: "fred".to_owned(),
            change: UserChange::Disabled(true),
            now: T5 + 14,
            deny_access_until: T5 + 3_614,
        },
        Command::DeleteUser {
            username: "erin".to_owned(),
            now: T5 + 15,
            deny_access_until: T5 + 3_615,
        },
        Command::UpdateUser {
            username: "nobody".to_owned(),
            change: UserChange::Disabled(false),
            now: T5 + 15,
            deny_access_until: T5 + 3_615,
        },
        Command::UpdateUser {
            username: "fred".to_owned(),
            change: UserChange::Disabled(false),
            now: T5 + 16,
            deny_access_until: T5 + 3_616,
        },
        Command::DeleteUser {
            username: "fred".to_owned(),
            now: T5 + 17,
            deny_access_until: T5 + 3_617,
        },
        // The runtime configuration: set, refused when stale, set again, rolled back, and a
        // rollback from a stale version refused.
        Command::SetRuntimeConfig {
            config: config(r#"{"enabled":true}"#, T5 + 20),
            expected_version: 0,
        },
        Command::SetRuntimeConfig {
            config: config(r#"{"enabled":false}"#, T5 + 21),
            expected_version: 0,
        },
        Command::SetRuntimeConfig {
            config: config(r#"{"enabled":false}"#, T5 + 22),
            expected_version: 1,
        },
        Command::RollbackRuntimeConfig {
            expected_version: 2,
            at: T5 + 23,
            by: "sub-erin".to_owned(),
        },
        Command::RollbackRuntimeConfig {
            expected_version: 2,
            at: T5 + 24,
            by: "sub-erin".to_owned(),
        },
        // Keeps the last two audit events, and drops the denials that ran out.
        Command::Purge {
            now: T5 + 3_612,
            unclaimed_client_ttl: 86_400,
            audit: AuditRetention {
                max_age_secs: 90 * 86_400,
                max_events: 2,
            },
        },
    ]
}

// The whole format-5 sample: the cluster version raised first, then every earlier command in
// the model (format 2's and format 4's samples, without format 4's own version raise), then
// the additions.
#[allow(dead_code)]
fn sample_format5() -> Vec<Command> {
    let mut commands = vec![Command::SetClusterVersion { version: 5 }];
    commands.extend(format4_commands());
    commands.extend(sample_format5_additions());
    commands
}
