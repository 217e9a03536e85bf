//! The token flow, from an authenticated request to signed tokens: authenticate the client,
//! check it registered the grant, propose the grant's attempt, read the outcome, sign. The
//! time comes in as an argument; the codes actor runs this on behalf of `/token`.

use mcpauth_state::{Claims, Client, FamilyId, Grant, Outcome, UnixTime};
use serde::Serialize;

use super::client_auth::ClientCredentials;
use super::error::Error;
use super::grant::Attempt;
use super::token_request::GrantRequest;
use crate::cluster::Cluster;
use crate::server_config::ServerConfig;
use crate::signer::AccessClaims;
use crate::signer_cache::SignerCache;
use crate::signing_keys::ClusterSigningKeys;
use crate::{resource, secrets};

/// A successful token response (OAuth 2.1 §3.2.3).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// What the token flow needs from the node: the replicated state, the signing key, the
/// lifetimes. Cheap to clone (handles).
#[derive(Clone)]
pub struct TokenService {
    cluster: Cluster,
    signer: SignerCache,
    config: ServerConfig,
}

impl TokenService {
    pub fn new(cluster: Cluster, signer: SignerCache, config: ServerConfig) -> Self {
        Self {
            cluster,
            signer,
            config,
        }
    }

    /// Exchange a grant for tokens at `now`. The client is authenticated before anything of
    /// its request is judged.
    pub async fn exchange(
        &self,
        credentials: &ClientCredentials,
        grant: GrantRequest,
        now: UnixTime,
    ) -> Result<IssuedTokens, Error> {
        let client = self.authenticate(credentials).await?;
        let grant_type = grant.grant_type;
        if !client.metadata.grant_types.iter().any(|g| g == grant_type) {
            return Err(Error::GrantNotRegistered(grant_type));
        }
        let request = grant.parameters?;
        let resources = self
            .cluster
            .read(|s| resource::with_admin_audience(&s.settings().resources, &self.config.issuer));
        let refresh_token = secrets::new_secret();
        let command = request.command(&Attempt {
            client: &client,
            resources: &resources,
            refresh_digest: secrets::digest(&refresh_token),
            now,
            refresh_idle_ttl: self.config.refresh_idle_ttl,
            refresh_reuse: self.config.refresh_reuse,
        })?;
        let (family, grant, claims) = match self.cluster.propose(command).await? {
            Outcome::Granted {
                family,
                grant,
                claims,
            } => (family, grant, claims),
            Outcome::Refused(refusal) => {
                tracing::info!(client_id = %client.client_id, grant_type, %refusal, "token request refused");
                return Err(Error::Refused(refusal));
            }
            other => {
                tracing::error!(?other, "unexpected outcome for a token request");
                return Err(Error::Internal);
            }
        };
        let claims = self.subject_claims(&grant, claims).inspect_err(|_| {
            tracing::info!(client_id = %client.client_id, grant_type, "token request refused: identity provider switched off");
        })?;
        let issue_refresh = client
            .metadata
            .grant_types
            .iter()
            .any(|g| g == "refresh_token");
        self.issue(
            &grant,
            &claims,
            family,
            now,
            issue_refresh.then_some(refresh_token),
        )
    }

    /// The registered client the credentials name, authenticated. A client registered through
    /// another node a moment ago is waited for.
    async fn authenticate(&self, credentials: &ClientCredentials) -> Result<Client, Error> {
        let id = credentials.client_id();
        self.cluster
            .sync_if_missing(|s| s.client(id).is_some())
            .await?;
        credentials.authenticate(self.cluster.read(|s| s.client(id).cloned()))
    }

    /// What the access token says of its subject beyond the grant, and whether it may have one
    /// at all. From cluster version 3 apply() decided both in the same step as the grant, and
    /// the outcome carries the claims. Under format 2 rules (a cluster still being upgraded from
    /// 0.1) the outcome has none: then this reads the state after apply() rotated the family,
    /// as 0.1 does (a switched-off provider's subject gets nothing, though its family moved on).
    fn subject_claims(&self, grant: &Grant, decided: Option<Claims>) -> Result<Claims, Error> {
        if let Some(claims) = decided {
            return Ok(claims);
        }
        let (allowed, claims) = self.cluster.read(|s| {
            let federation = s.federation();
            let claims = federation
                .profile(&grant.subject)
                .map(Claims::from)
                .unwrap_or_default();
            (federation.provider_allows(&grant.subject), claims)
        });
        if allowed {
            Ok(claims)
        } else {
            Err(Error::ProviderSwitchedOff)
        }
    }

    fn issue(
        &self,
        grant: &Grant,
        claims: &Claims,
        family: FamilyId,
        now: UnixTime,
        refresh_token: Option<String>,
    ) -> Result<IssuedTokens, Error> {
        let signer = self
            .signer
            .signer(&ClusterSigningKeys {
                cluster: &self.cluster,
                now,
            })
            .map_err(|e| {
                tracing::error!(error = %e, "no signer");
                Error::Internal
            })?;
        let jti = secrets::new_id();
        let access_token = signer
            .sign(&AccessClaims {
                iss: &self.config.issuer,
                sub: &grant.subject,
                aud: &grant.resource,
                client_id: &grant.client_id,
                scope: &grant.scope,
                iat: now,
                exp: now + self.config.access_token_ttl,
                auth_time: grant.auth_time,
                jti: &jti,
                email: claims.email.as_deref(),
                name: claims.name.as_deref(),
                groups: Some(claims.groups.as_slice()).filter(|g| !g.is_empty()),
            })
            .map_err(|e| {
                tracing::error!(error = %e, "signing failed");
                Error::Internal
            })?;
        tracing::debug!(family, client_id = %grant.client_id, "tokens issued");
        Ok(IssuedTokens {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.access_token_ttl,
            refresh_token,
            scope: grant.scope.clone(),
        })
    }
}
