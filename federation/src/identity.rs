//! Who signed in, as the provider describes them, and what our subject for them is.

/// Who the provider says signed in, in the provider's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The provider's stable identifier for the person (OIDC `sub`, LDAP `uid`/`entryUUID`,
    /// SAML NameID or attribute, GitHub numeric id).
    pub subject: String,
    /// A human-readable login name (for the consent page), if the provider gave one.
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl Identity {
    /// Our subject for this person: the provider id and the provider's subject.
    pub fn our_subject(&self, provider_id: &str) -> String {
        format!("{provider_id}:{}", self.subject)
    }

    /// What the consent page calls the person.
    pub fn display_username(&self) -> String {
        self.username
            .clone()
            .or_else(|| self.email.clone())
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.subject.clone())
    }
}
