// The commands format 2 added (federated login), one or more of each, after format 1's. See
// sample_format1.rs for the rules of these files.
//
// Expects in scope as well: IdentityProvider, LoginSettings, PendingUpstream, Profile.

#[allow(dead_code)]
fn sample_format2() -> Vec<Command> {
    const T0: u64 = 1_700_000_000;
    let provider = |id: &str, enabled: bool| IdentityProvider {
        id: id.to_owned(),
        kind: "oidc".to_owned(),
        display_name: format!("{id} SSO"),
        enabled,
        config_json: format!("{{\"issuer\":\"https://{id}.example.com\"}}"),
        sealed_secret: Some(Sealed {
            nonce: [11; 12],
            ciphertext: vec![12; 40],
        }),
        updated_at: T0,
    };
    let pending = |provider_id: &str| PendingUpstream {
        provider_id: provider_id.to_owned(),
        return_to: "/authorize?client_id=client-a&state=xyz".to_owned(),
        browser_digest: [50; 32],
        request_id: Some("_req1".to_owned()),
        created_at: T0 + 100,
        expires_at: T0 + 700,
        consumed_by: None,
    };
    let mut commands = sample_format1();
    commands.extend([
        Command::SeedIdentityProviders {
            providers: vec![provider("sso", true)],
            login: Some(LoginSettings { local_login: true }),
        },
        // Seeded once only: refused.
        Command::SeedIdentityProviders {
            providers: vec![provider("other", true)],
            login: None,
        },
        Command::PutIdentityProvider {
            provider: provider("saml", true),
        },
        Command::PutIdentityProvider {
            provider: provider("off", false),
        },
        Command::DeleteIdentityProvider {
            id: "saml".to_owned(),
        },
        Command::DeleteIdentityProvider {
            id: "never-there".to_owned(),
        },
        Command::SetLoginSettings {
            login: LoginSettings { local_login: false },
        },
        Command::BeginUpstreamLogin {
            state_digest: [60; 32],
            pending: pending("sso"),
        },
        Command::ConsumeUpstreamState {
            state_digest: [60; 32],
            provider_id: "sso".to_owned(),
            consumer: [61; 32],
            now: T0 + 110,
        },
        // Another consumer: refused (single use).
        Command::ConsumeUpstreamState {
            state_digest: [60; 32],
            provider_id: "sso".to_owned(),
            consumer: [62; 32],
            now: T0 + 111,
        },
        Command::RecordAssertion {
            provider_id: "sso".to_owned(),
            assertion_id: "_assertion1".to_owned(),
            expires_at: T0 + 400,
            consumer: [63; 32],
            now: T0 + 112,
        },
        Command::RecordAssertion {
            provider_id: "sso".to_owned(),
            assertion_id: "_assertion1".to_owned(),
            expires_at: T0 + 400,
            consumer: [64; 32],
            now: T0 + 113,
        },
        Command::CreateFederatedSession {
            session: Session {
                id_digest: [70; 32],
                subject: "sso:bob".to_owned(),
                username: "bob@example.com".to_owned(),
                created_at: T0 + 120,
                expires_at: T0 + 86_520,
            },
            profile: Profile {
                subject: "sso:bob".to_owned(),
                provider_id: "sso".to_owned(),
                email: Some("bob@example.com".to_owned()),
                name: Some("Bob".to_owned()),
                groups: vec!["admins".to_owned(), "staff".to_owned()],
                updated_at: T0 + 120,
            },
            replaces: None,
        },
        Command::CreateFederatedSession {
            session: Session {
                id_digest: [71; 32],
                subject: "off:carol".to_owned(),
                username: "carol".to_owned(),
                created_at: T0 + 121,
                expires_at: T0 + 86_521,
            },
            profile: Profile {
                subject: "off:carol".to_owned(),
                provider_id: "off".to_owned(),
                email: None,
                name: None,
                groups: Vec::new(),
                updated_at: T0 + 121,
            },
            replaces: None,
        },
        // Codes and a refresh for the federated people: bob's provider is on, carol's off.
        Command::IssueCode {
            code: AuthCode {
                digest: [80; 32],
                grant: Grant {
                    client_id: "client-a".to_owned(),
                    subject: "sso:bob".to_owned(),
                    scope: "mcp".to_owned(),
                    resource: "https://mcp.example.com/mcp".to_owned(),
                    auth_time: T0 + 120,
                },
                redirect_uri: "http://127.0.0.1/callback".to_owned(),
                code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
                expires_at: T0 + 190,
                redeemed_into: None,
            },
        },
        Command::IssueCode {
            code: AuthCode {
                digest: [81; 32],
                grant: Grant {
                    client_id: "client-a".to_owned(),
                    subject: "off:carol".to_owned(),
                    scope: "mcp".to_owned(),
                    resource: "https://mcp.example.com/mcp".to_owned(),
                    auth_time: T0 + 121,
                },
                redirect_uri: "http://127.0.0.1/callback".to_owned(),
                code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
                expires_at: T0 + 191,
                redeemed_into: None,
            },
        },
        Command::RedeemCode {
            digest: [80; 32],
            client_id: "client-a".to_owned(),
            redirect_uri: "http://127.0.0.1/callback".to_owned(),
            verifier_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            resource: None,
            now: T0 + 130,
            refresh_digest: [90; 32],
            refresh_idle_expires_at: T0 + 2_592_130,
        },
        Command::RedeemCode {
            digest: [81; 32],
            client_id: "client-a".to_owned(),
            redirect_uri: "http://127.0.0.1/callback".to_owned(),
            verifier_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            resource: None,
            now: T0 + 131,
            refresh_digest: [91; 32],
            refresh_idle_expires_at: T0 + 2_592_131,
        },
        Command::RotateRefresh {
            presented: [90; 32],
            client_id: "client-a".to_owned(),
            resource: None,
            scope: None,
            next: [92; 32],
            now: T0 + 140,
            idle_expires_at: T0 + 2_592_140,
        },
        Command::Purge {
            now: T0 + 800,
            unclaimed_client_ttl: 86_400,
        },
    ]);
    commands
}
