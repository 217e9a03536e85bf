// The commands of the golden fixtures that every format since 1 can express: one or more of
// each of format 1's 13 commands, in an order that exercises every branch a fixture should
// pin (grants, a replay, a reuse, a refusal, a batch, a tagged retry, a purge).
//
// This file is `include!`d, and it must compile against the release that wrote each fixture
// (the generators under `generate/` were built at those commits) and against the current
// model: only struct literals with every field, no helpers from either side.
//
// Expects in scope: Command, Client, ClientMetadata, User, Session, Consent, AuthCode, Grant,
// SigningKey, Sealed, Settings.

#[allow(dead_code)]
fn sample_format1() -> Vec<Command> {
    const T0: u64 = 1_700_000_000;
    let grant = |scope: &str| Grant {
        client_id: "client-a".to_owned(),
        subject: "sub-alice".to_owned(),
        scope: scope.to_owned(),
        resource: "https://mcp.example.com/mcp".to_owned(),
        auth_time: T0,
    };
    let client = |client_id: &str, secret: Option<[u8; 32]>| Client {
        client_id: client_id.to_owned(),
        secret_digest: secret,
        metadata: ClientMetadata {
            redirect_uris: vec![
                "http://127.0.0.1/callback".to_owned(),
                "https://claude.ai/api/mcp/auth_callback".to_owned(),
            ],
            token_endpoint_auth_method: if secret.is_some() {
                "client_secret_basic".to_owned()
            } else {
                "none".to_owned()
            },
            grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
            response_types: vec!["code".to_owned()],
            client_name: Some(format!("{client_id} app")),
            client_uri: Some("https://app.example.com".to_owned()),
            logo_uri: None,
            scope: Some("mcp offline_access".to_owned()),
            contacts: vec!["ops@example.com".to_owned()],
            tos_uri: None,
            policy_uri: Some("https://app.example.com/privacy".to_owned()),
            software_id: Some("app".to_owned()),
            software_version: Some("1.2.3".to_owned()),
            application_type: Some("native".to_owned()),
        },
        issued_at: T0,
        first_login_at: None,
    };
    let code = |digest: [u8; 32], expires_at: u64| AuthCode {
        digest,
        grant: grant("mcp offline_access"),
        redirect_uri: "http://127.0.0.1/callback".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        expires_at,
        redeemed_into: None,
    };
    let redeem = |digest: [u8; 32], refresh: [u8; 32], now: u64| Command::RedeemCode {
        digest,
        client_id: "client-a".to_owned(),
        redirect_uri: "http://127.0.0.1/callback".to_owned(),
        verifier_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        resource: Some("https://mcp.example.com/mcp".to_owned()),
        now,
        refresh_digest: refresh,
        refresh_idle_expires_at: now + 2_592_000,
    };
    let rotate = |presented: [u8; 32], next: [u8; 32], scope: Option<&str>, now: u64| {
        Command::RotateRefresh {
            presented,
            client_id: "client-a".to_owned(),
            resource: None,
            scope: scope.map(str::to_owned),
            next,
            now,
            idle_expires_at: now + 2_592_000,
        }
    };
    vec![
        Command::EnsureSigningKey {
            key: SigningKey {
                kid: "key-1".to_owned(),
                alg: "ES256".to_owned(),
                public_key: vec![4; 65],
                sealed_private_key: Sealed {
                    nonce: [7; 12],
                    ciphertext: vec![9; 150],
                },
                created_at: T0,
            },
        },
        // A second key is refused: the first stays.
        Command::EnsureSigningKey {
            key: SigningKey {
                kid: "key-2".to_owned(),
                alg: "ES256".to_owned(),
                public_key: vec![5; 65],
                sealed_private_key: Sealed {
                    nonce: [8; 12],
                    ciphertext: vec![10; 150],
                },
                created_at: T0 + 1,
            },
        },
        Command::SetSettings {
            settings: Settings {
                resources: vec!["https://mcp.example.com/mcp".to_owned()],
                allowed_redirect_schemes: vec!["cursor".to_owned()],
            },
        },
        Command::CreateUser {
            user: User {
                username: "alice".to_owned(),
                subject: "sub-alice".to_owned(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
                created_at: T0,
                disabled: false,
            },
        },
        Command::RegisterClient {
            client: client("client-a", None),
        },
        Command::RegisterClient {
            client: client("client-b", Some([2; 32])),
        },
        // Taken: refused.
        Command::RegisterClient {
            client: client("client-a", Some([3; 32])),
        },
        Command::CreateSession {
            session: Session {
                id_digest: [20; 32],
                subject: "sub-alice".to_owned(),
                username: "alice".to_owned(),
                created_at: T0,
                expires_at: T0 + 86_400,
            },
            replaces: None,
        },
        Command::CreateSession {
            session: Session {
                id_digest: [21; 32],
                subject: "sub-alice".to_owned(),
                username: "alice".to_owned(),
                created_at: T0 + 5,
                expires_at: T0 + 86_405,
            },
            replaces: Some([20; 32]),
        },
        Command::GrantConsent {
            consent: Consent {
                subject: "sub-alice".to_owned(),
                client_id: "client-a".to_owned(),
                scopes: vec!["mcp".to_owned(), "offline_access".to_owned()],
                granted_at: T0 + 6,
            },
        },
        Command::IssueCode {
            code: code([30; 32], T0 + 66),
        },
        Command::IssueCode {
            code: code([31; 32], T0 + 67),
        },
        Command::IssueCode {
            code: code([32; 32], T0 + 8),
        },
        redeem([30; 32], [40; 32], T0 + 10),
        // The same code again: a replay, which revokes the family it started.
        redeem([30; 32], [41; 32], T0 + 11),
        redeem([31; 32], [42; 32], T0 + 12),
        rotate([42; 32], [43; 32], None, T0 + 20),
        rotate([43; 32], [44; 32], Some("mcp"), T0 + 21),
        // A rotated token presented again: reuse, the family is revoked.
        rotate([43; 32], [45; 32], None, T0 + 22),
        Command::Batch(vec![
            Command::EndSession {
                id_digest: [21; 32],
            },
            // Expired (T0 + 8): refused inside the batch, the rest applies.
            redeem([32; 32], [46; 32], T0 + 30),
        ]),
        Command::Tagged {
            attempt: 77,
            command: Box::new(Command::IssueCode {
                code: code([33; 32], T0 + 90),
            }),
        },
        // The same attempt again (a retried proposal): answered as the first time.
        Command::Tagged {
            attempt: 77,
            command: Box::new(Command::IssueCode {
                code: code([33; 32], T0 + 90),
            }),
        },
        Command::Purge {
            now: T0 + 70,
            unclaimed_client_ttl: 86_400,
        },
    ]
}
