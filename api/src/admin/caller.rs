//! Who is calling the admin API, and what they may do.
//!
//! On the public listener a caller presents an access token for the admin audience
//! ([`crate::resource::admin_audience`]), obtained through the normal login like any MCP
//! client's. It is judged here as introspection judges a token (signature, issuer, audience,
//! expiry, the deny-lists, the client still enabled), and the caller's roles are read from the
//! state at this moment, not from the token: taking a role away takes effect on the next
//! request. A local user has the roles of their record; a person who signed in through an
//! identity provider has the roles its `admin_groups` / `auditor_groups` map their groups to.
//!
//! On the internal listener every request already carried the cluster secret (its middleware
//! refuses any other), which is automation's way in: it acts as an administrator.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use mcpauth_crypto::verifier::verify_access_token;
use mcpauth_federation::config::RoleGroups;
use mcpauth_state::{Role, State, UnixTime};

use super::error::AdminApiError;
use crate::app::AppState;
use crate::internal::InternalState;
use crate::resource::admin_audience;

/// The actor name of calls made with the cluster secret (in the audit trail).
pub const CLUSTER_SECRET_ACTOR: &str = "cluster-secret";

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An admin-audience access token issued to this client.
    Token { client_id: String },
    /// The cluster secret, on the internal listener.
    ClusterSecret,
}

/// An authenticated caller of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCaller {
    /// The person's subject, or [`CLUSTER_SECRET_ACTOR`].
    pub subject: String,
    pub roles: BTreeSet<Role>,
    pub via: Via,
}

impl AdminCaller {
    /// Refuse (403) unless the caller may do what `role` may: an administrator may do
    /// everything, an auditor only read.
    pub fn require(&self, role: Role) -> Result<(), AdminApiError> {
        let allowed = self.roles.contains(&Role::Admin)
            || (role == Role::Auditor && self.roles.contains(&Role::Auditor));
        if allowed {
            Ok(())
        } else {
            Err(AdminApiError::Forbidden(role))
        }
    }

    /// Refuse unless the caller may change things.
    pub fn require_admin(&self) -> Result<(), AdminApiError> {
        self.require(Role::Admin)
    }

    /// Refuse unless the caller may read (an auditor or an administrator).
    pub fn require_reader(&self) -> Result<(), AdminApiError> {
        self.require(Role::Auditor)
    }

    /// The client the caller's token was issued to, if any.
    pub fn client_id(&self) -> Option<&str> {
        match &self.via {
            Via::Token { client_id } => Some(client_id),
            Via::ClusterSecret => None,
        }
    }
}

/// The roles `subject` has now: its local account's (if enabled), else those its identity
/// provider maps its groups to (if the provider is enabled).
pub fn roles_of(state: &State, subject: &str) -> BTreeSet<Role> {
    if let Some(user) = state.users().find(|u| u.subject == subject) {
        return if user.disabled {
            BTreeSet::new()
        } else {
            user.roles.iter().copied().collect()
        };
    }
    let federation = state.federation();
    let Some(profile) = federation.profile(subject) else {
        return BTreeSet::new();
    };
    let Some(provider) = federation
        .provider(&profile.provider_id)
        .filter(|p| p.enabled)
    else {
        return BTreeSet::new();
    };
    let groups = RoleGroups::of(provider);
    let member = |mapped: &[String]| mapped.iter().any(|g| profile.groups.contains(g));
    let mut roles = BTreeSet::new();
    if member(&groups.admin_groups) {
        roles.insert(Role::Admin);
    }
    if member(&groups.auditor_groups) {
        roles.insert(Role::Auditor);
    }
    roles
}

/// Judge a bearer token presented to the admin API at `now`.
pub fn authenticate_token(
    state: &State,
    issuer: &str,
    token: &str,
    now: UnixTime,
) -> Result<AdminCaller, AdminApiError> {
    let claims = verify_access_token(token, state.signing_keys())
        .map_err(|_| AdminApiError::Unauthenticated("the access token does not verify"))?;
    if claims.iss != issuer || claims.aud != admin_audience(issuer) {
        return Err(AdminApiError::Unauthenticated(
            "the access token is not for the admin API (request resource=<issuer>/api/v1)",
        ));
    }
    let denied = claims.exp <= now
        || state.access_token_revoked(&claims.jti)
        || state.access_denied(&claims.sub, &claims.client_id, claims.iat)
        || state
            .client(&claims.client_id)
            .is_none_or(|client| client.disabled);
    if denied {
        return Err(AdminApiError::Unauthenticated(
            "the access token expired or was revoked",
        ));
    }
    Ok(AdminCaller {
        roles: roles_of(state, &claims.sub),
        subject: claims.sub,
        via: Via::Token {
            client_id: claims.client_id,
        },
    })
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for AdminCaller {
    type Error = AdminApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        if req.app_data::<web::Data<InternalState>>().is_some() {
            // The internal listener's middleware let only the cluster secret through.
            return Box::pin(std::future::ready(Ok(AdminCaller {
                subject: CLUSTER_SECRET_ACTOR.to_owned(),
                roles: BTreeSet::from([Role::Admin]),
                via: Via::ClusterSecret,
            })));
        }
        let Some(app) = req.app_data::<web::Data<AppState>>().cloned() else {
            return Box::pin(std::future::ready(Err(AdminApiError::Internal(
                "admin API mounted without its state".to_owned(),
            ))));
        };
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let token = token.ok_or(AdminApiError::Unauthenticated(
                "an access token for the admin API is required (Authorization: Bearer)",
            ))?;
            // Freshness matters: a token revoked or a role removed through another node a
            // moment ago must not pass here.
            app.cluster.sync_if_missing(|_| false).await?;
            let now = app.clock.now();
            app.cluster
                .read(|s| authenticate_token(s, &app.config.issuer, &token, now))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpauth_state::{Command, IdentityProvider, Profile, Session, User};

    fn caller(roles: &[Role]) -> AdminCaller {
        AdminCaller {
            subject: "s".into(),
            roles: roles.iter().copied().collect(),
            via: Via::ClusterSecret,
        }
    }

    #[test]
    fn an_auditor_reads_and_changes_nothing() {
        assert!(caller(&[Role::Auditor]).require_reader().is_ok());
        assert!(matches!(
            caller(&[Role::Auditor]).require_admin(),
            Err(AdminApiError::Forbidden(Role::Admin))
        ));
        assert!(caller(&[Role::Admin]).require_reader().is_ok());
        assert!(caller(&[Role::Admin]).require_admin().is_ok());
        assert!(caller(&[]).require_reader().is_err());
    }

    fn state_with(config_json: &str, groups: &[&str], enabled: bool) -> State {
        let mut state = State::default();
        state.apply(&Command::SetClusterVersion { version: 5 });
        state.apply(&Command::CreateUser {
            user: User {
                username: "ann".into(),
                subject: "ann".into(),
                password_hash: "x".into(),
                created_at: 0,
                disabled: false,
                roles: vec![Role::Auditor],
                must_change_password: false,
            },
        });
        state.apply(&Command::PutIdentityProvider {
            provider: IdentityProvider {
                id: "corp".into(),
                kind: "oidc".into(),
                display_name: "Corp".into(),
                enabled,
                config_json: config_json.into(),
                sealed_secret: None,
                updated_at: 0,
            },
        });
        state.apply(&Command::CreateFederatedSession {
            session: Session {
                id_digest: [1; 32],
                subject: "corp:bob".into(),
                username: "bob".into(),
                created_at: 0,
                expires_at: 100,
                identity_provider: Some("corp".into()),
                source: None,
            },
            profile: Profile {
                subject: "corp:bob".into(),
                provider_id: "corp".into(),
                email: None,
                name: None,
                groups: groups.iter().map(|g| g.to_string()).collect(),
                updated_at: 0,
            },
            replaces: None,
        });
        state
    }

    #[test]
    fn roles_come_from_the_account_or_the_mapped_groups() {
        let mapped = r#"{"kind":"oidc","admin_groups":["mcp-admins"],"auditor_groups":["audit"]}"#;
        let state = state_with(mapped, &["staff", "mcp-admins"], true);
        assert_eq!(roles_of(&state, "ann"), BTreeSet::from([Role::Auditor]));
        assert_eq!(roles_of(&state, "corp:bob"), BTreeSet::from([Role::Admin]));
        assert!(roles_of(&state, "nobody").is_empty());
        // Not in a mapped group; a provider without a mapping; a provider switched off.
        assert!(roles_of(&state_with(mapped, &["staff"], true), "corp:bob").is_empty());
        assert!(roles_of(
            &state_with(r#"{"kind":"oidc"}"#, &["mcp-admins"], true),
            "corp:bob"
        )
        .is_empty());
        assert!(roles_of(&state_with(mapped, &["mcp-admins"], false), "corp:bob").is_empty());
    }

    #[test]
    fn a_token_that_is_not_ours_is_refused() {
        let state = state_with(r#"{"kind":"oidc"}"#, &[], true);
        assert!(matches!(
            authenticate_token(&state, "https://auth.example", "not.a.jwt", 0),
            Err(AdminApiError::Unauthenticated(_))
        ));
    }
}
