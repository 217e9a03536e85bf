//! Client records in apply(): registration (RFC 7591), records of metadata documents and of
//! the config file, RFC 7592 deletion; and what a cluster below version 4 may hold of them.

use crate::model::{Client, ClientOrigin, FamilyId};
use crate::outcome::{Outcome, Refusal};
use crate::state::State;

impl State {
    pub(crate) fn register_client(&mut self, client: &Client) -> Outcome {
        let client = &self.expressible_client(client);
        if let Some(existing) = self.clients.get(&client.client_id) {
            // The same registration again is a retried proposal: it succeeded the first time.
            return if existing == client {
                Outcome::Done
            } else {
                Outcome::Refused(Refusal::ClientExists)
            };
        }
        self.clients
            .insert(client.client_id.clone(), client.clone());
        Outcome::Done
    }

    /// `client` as the cluster version can hold it: below 4, without what format 3 lacks
    /// (the conversion drops it on the way to followers, so the leader must too).
    pub(crate) fn expressible_client(&self, client: &Client) -> Client {
        let mut client = client.clone();
        if self.cluster_version < 4 {
            client.registration_token_digest = None;
            client.origin = ClientOrigin::Registered;
        }
        if self.cluster_version < 5 {
            client.disabled = false;
            client.last_used_at = None;
        }
        client
    }

    pub(crate) fn put_client(&mut self, client: &Client) -> Outcome {
        match self.clients.get_mut(&client.client_id) {
            Some(existing) => {
                existing.metadata = client.metadata.clone();
                existing.secret_digest = client.secret_digest;
                existing.origin = client.origin;
            }
            None => {
                let client = self.expressible_client(client);
                self.clients.insert(client.client_id.clone(), client);
            }
        }
        Outcome::Done
    }

    pub(crate) fn delete_client(&mut self, client_id: &str) -> Outcome {
        if self.clients.remove(client_id).is_none() {
            return Outcome::Refused(Refusal::UnknownClient);
        }
        self.codes
            .retain(|_, code| code.grant.client_id != client_id);
        self.consents.retain(|(_, client), _| client != client_id);
        let families: Vec<FamilyId> = self
            .families
            .values()
            .filter(|f| f.grant.client_id == client_id)
            .map(|f| f.id)
            .collect();
        for family in families {
            self.revoke_family(family);
        }
        Outcome::Done
    }

    pub(crate) fn seed_clients(&mut self, clients: &[Client]) -> Outcome {
        if self.clients_seeded {
            return Outcome::Refused(Refusal::AlreadySeeded);
        }
        self.clients_seeded = true;
        for client in clients {
            self.put_client(client);
        }
        Outcome::Done
    }
}
