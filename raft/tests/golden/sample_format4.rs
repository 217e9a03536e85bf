// The commands format 4 added, and the rules it changed, for the golden sample of format 4:
// the fixture is the cluster version raised to 4, then format 2's sample (every command before
// format 4, under format 4's rules), then these. They exercise client records of every origin
// (seeded, put again, updated, deleted), the refresh policy (a rotated token accepted again
// while its successor is unused, then real reuse revoking the family, and a strict rotation),
// revocation of both token kinds, a key rotation with the old key retired by a purge, and a
// password change. See sample_format1.rs for the rules of these files.
//
// Expects in scope, besides sample_format1.rs's names: ClientOrigin, RefreshReuse.

#[allow(dead_code)]
fn sample_format4_additions() -> Vec<Command> {
    const T4: u64 = 1_800_000_000;
    let metadata = |name: &str, redirect: &str| ClientMetadata {
        redirect_uris: vec![redirect.to_owned()],
        token_endpoint_auth_method: "none".to_owned(),
        grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
        response_types: vec!["code".to_owned()],
        client_name: Some(name.to_owned()),
        client_uri: None,
        logo_uri: None,
        scope: None,
        contacts: vec![],
        tos_uri: None,
        policy_uri: None,
        software_id: None,
        software_version: None,
        application_type: Some("native".to_owned()),
    };
    let cimd = "https://app.example.com/oauth/client.json";
    let client = |client_id: &str, origin: ClientOrigin, token: Option<[u8; 32]>| Client {
        client_id: client_id.to_owned(),
        secret_digest: None,
        metadata: metadata(&format!("{client_id} app"), "http://127.0.0.1/callback"),
        issued_at: T4,
        first_login_at: None,
        registration_token_digest: token,
        origin,
    };
    let code = |digest: [u8; 32], client_id: &str| Command::IssueCode {
        code: AuthCode {
            digest,
            grant: Grant {
                client_id: client_id.to_owned(),
                subject: "sub-dora".to_owned(),
                scope: "mcp".to_owned(),
                resource: "https://mcp.example.com/mcp".to_owned(),
                auth_time: T4,
            },
            redirect_uri: "http://127.0.0.1/callback".to_owned(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            expires_at: T4 + 60,
            redeemed_into: None,
        },
    };
    let redeem = |digest: [u8; 32], client_id: &str, refresh: [u8; 32]| Command::RedeemCode {
        digest,
        client_id: client_id.to_owned(),
        redirect_uri: "http://127.0.0.1/callback".to_owned(),
        verifier_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        resource: None,
        now: T4 + 1,
        refresh_digest: refresh,
        refresh_idle_expires_at: T4 + 1 + 2_592_000,
    };
    let rotate = |client_id: &str, presented: [u8; 32], next: [u8; 32], now: u64, reuse| {
        Command::RotateRefresh {
            presented,
            client_id: client_id.to_owned(),
            resource: None,
            scope: None,
            next,
            now,
            idle_expires_at: now + 2_592_000,
            reuse,
        }
    };
    let grace = RefreshReuse::Grace { secs: 60 };
    let key = |kid: &str, fill: u8, created_at: u64, activates_at: u64| SigningKey {
        kid: kid.to_owned(),
        alg: "ES256".to_owned(),
        public_key: vec![fill; 65],
        sealed_private_key: Sealed {
            nonce: [fill; 12],
            ciphertext: vec![fill; 150],
        },
        created_at,
        activates_at,
        retires_at: None,
    };
    vec![
        Command::SeedClients {
            clients: vec![client("configured-app", ClientOrigin::Configured, None)],
        },
        // Seeded once only.
        Command::SeedClients {
            clients: vec![client("late-app", ClientOrigin::Configured, None)],
        },
        Command::RegisterClient {
            client: client("dcr-app", ClientOrigin::Registered, Some([40; 32])),
        },
        Command::PutClient {
            client: client(cimd, ClientOrigin::MetadataDocument, None),
        },
        // The document changed: the record is refreshed, its registration instant kept.
        Command::PutClient {
            client: Client {
                issued_at: T4 + 5,
                metadata: metadata("App (renamed)", "http://localhost/callback"),
                ..client(cimd, ClientOrigin::MetadataDocument, None)
            },
        },
        Command::UpdateClient {
            client_id: "dcr-app".to_owned(),
            metadata: metadata("dcr-app v2", "http://127.0.0.1/callback"),
        },
        Command::UpdateClient {
            client_id: "no-such-app".to_owned(),
            metadata: metadata("ghost", "http://127.0.0.1/callback"),
        },
        Command::CreateUser {
            user: User {
                username: "dora".to_owned(),
                subject: "sub-dora".to_owned(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
                created_at: T4,
                disabled: false,
            },
        },
        Command::SetUserPassword {
            username: "dora".to_owned(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI".to_owned(),
        },
        Command::SetUserPassword {
            username: "nobody".to_owned(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        },
        // Two sessions share one refresh token ([50]): both presentations win, then both
        // successors are used, under the grace policy.
        code([41; 32], "configured-app"),
        redeem([41; 32], "configured-app", [50; 32]),
        rotate("configured-app", [50; 32], [51; 32], T4 + 100, grace),
        rotate("configured-app", [50; 32], [52; 32], T4 + 101, grace),
        rotate("configured-app", [51; 32], [53; 32], T4 + 200, grace),
        rotate("configured-app", [52; 32], [54; 32], T4 + 201, grace),
        // [50] again, long after its successors were used: reuse, the family is revoked.
        rotate("configured-app", [50; 32], [55; 32], T4 + 10_000, grace),
        // A strict rotation, then the rotated token again: revoked at once.
        code([42; 32], cimd),
        redeem([42; 32], cimd, [60; 32]),
        rotate(cimd, [60; 32], [61; 32], T4 + 300, RefreshReuse::Strict),
        rotate(cimd, [60; 32], [62; 32], T4 + 301, RefreshReuse::Strict),
        // Revocation: another client's token is refused, an unknown one is no error, then
        // the owner revokes its family.
        code([43; 32], "dcr-app"),
        redeem([43; 32], "dcr-app", [70; 32]),
        Command::RevokeRefreshToken {
            digest: [70; 32],
            client_id: "configured-app".to_owned(),
        },
        Command::RevokeRefreshToken {
            digest: [79; 32],
            client_id: "dcr-app".to_owned(),
        },
        Command::RevokeRefreshToken {
            digest: [70; 32],
            client_id: "dcr-app".to_owned(),
        },
        Command::RevokeAccessToken {
            jti: "jti-early".to_owned(),
            expires_at: T4 + 3_600,
        },
        Command::RevokeAccessToken {
            jti: "jti-late".to_owned(),
            expires_at: T4 + 90_000,
        },
        // A key rotation: published at T4, signing a day later; the keys before it retire
        // when the last token they signed has expired.
        Command::AddSigningKey {
            key: key("key-4", 44, T4, T4 + 86_400),
            retire_previous_at: T4 + 86_400 + 3_600,
        },
        Command::AddSigningKey {
            key: key("key-4", 45, T4, T4 + 86_400),
            retire_previous_at: T4 + 86_400 + 3_600,
        },
        Command::DeleteClient {
            client_id: "dcr-app".to_owned(),
        },
        Command::DeleteClient {
            client_id: "dcr-app".to_owned(),
        },
        // Drops the retired keys and the early denial, keeps the late one.
        Command::Purge {
            now: T4 + 86_400 + 3_601,
            unclaimed_client_ttl: 86_400,
        },
    ]
}

// The whole format-4 sample: the cluster version raised first (so apply() follows format 4's
// rules, and every entry after it is written in format 4), then `earlier_commands()` (format
// 2's sample, which the includer supplies as this module's commands), then the additions.
#[allow(dead_code)]
fn sample_format4() -> Vec<Command> {
    let mut commands = vec![Command::SetClusterVersion { version: 4 }];
    commands.extend(earlier_commands());
    commands.extend(sample_format4_additions());
    commands
}
