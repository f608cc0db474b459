//! Contacts and trust: keys are checked against their binding signature
//! when first seen and compared on every later sight (directory, bundle).
//! A changed DH key under the same signing key (the server refuses that,
//! so only a lying server or an attacker can cause it) is recorded,
//! un-verifies the contact and blocks sending until the user accepts the
//! change; a first message under other keys than the contact's is refused
//! outright (see `receive`). Petnames stay in the encrypted profile; the
//! server never sees them.

use std::collections::BTreeMap;

use glyph_crypto::{PublicIdentity, safety_number};
use serde::{Deserialize, Serialize};

use crate::client::{Client, records};
use crate::error::ClientError;
use crate::http::now;

/// Someone I talk to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Their user id.
    pub user_id: String,
    /// Their signing key (base64).
    pub sign_pub: String,
    /// Their DH key (base64) as first seen or last accepted.
    pub dh_pub: String,
    /// Their handle when last looked up.
    pub handle: Option<String>,
    /// My name for them (never leaves this device).
    pub petname: Option<String>,
    /// I compared the safety number with them.
    pub verified: bool,
    /// A key change seen and not yet accepted: the new DH key (base64).
    pub changed_dh_pub: Option<String>,
    /// When I first saw them.
    pub added_at: i64,
}

impl Contact {
    /// The name to show: petname, else @handle, else the user id.
    pub fn display_name(&self) -> String {
        match (&self.petname, &self.handle) {
            (Some(name), _) => name.clone(),
            (None, Some(handle)) => format!("@{handle}"),
            (None, None) => self.user_id.clone(),
        }
    }

    /// A contact seen for the first time, unverified.
    pub(crate) fn first_seen(
        user_id: &str,
        identity: &PublicIdentity,
        handle: Option<String>,
    ) -> Self {
        Contact {
            user_id: user_id.to_owned(),
            sign_pub: identity.sign_pub.to_base64(),
            dh_pub: identity.dh_pub.to_base64(),
            handle,
            petname: None,
            verified: false,
            changed_dh_pub: None,
            added_at: now(),
        }
    }

    pub(crate) fn identity(&self) -> Result<PublicIdentity, ClientError> {
        PublicIdentity::from_json_value(
            &serde_json::json!({"sign_pub": self.sign_pub, "dh_pub": self.dh_pub}),
        )
        .map_err(ClientError::from)
    }
}

/// How a contact's keys compare with what I had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// First time seen: added, unverified.
    New,
    /// The same keys as before.
    Same,
    /// Different keys: recorded as a change, the contact is unverified.
    Changed,
}

/// Whether `text` looks like a user id (43 characters of base64url).
/// The fewest characters of a user id accepted in its place.
pub const MIN_ID_PREFIX: usize = 6;

/// The contact whose petname or handle is closest to `typed` (a typo's
/// intended name), if one is close: at most a third of its letters off.
fn closest_contact<'a>(typed: &str, contacts: impl Iterator<Item = &'a Contact>) -> Option<String> {
    let typed = typed.trim_start_matches('@').to_lowercase();
    contacts
        .flat_map(|c| {
            let handle = c.handle.as_ref().map(|h| format!("@{h}"));
            c.petname.clone().into_iter().chain(handle)
        })
        .map(|name| {
            let distance = edit_distance(&typed, &name.trim_start_matches('@').to_lowercase());
            (distance, name)
        })
        .filter(|(distance, name)| *distance > 0 && *distance * 3 <= name.chars().count().max(3))
        .min()
        .map(|(_, name)| name)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

fn is_user_id(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Client {
    pub(crate) async fn contacts_map(&self) -> Result<BTreeMap<String, Contact>, ClientError> {
        Ok(self
            .vault
            .get_json(records::CONTACTS)
            .await?
            .unwrap_or_default())
    }

    /// My contacts.
    pub async fn contacts(&self) -> Result<Vec<Contact>, ClientError> {
        Ok(self.contacts_map().await?.into_values().collect())
    }

    /// A contact by user id.
    pub async fn contact(&self, user_id: &str) -> Result<Option<Contact>, ClientError> {
        Ok(self.contacts_map().await?.remove(user_id))
    }

    /// Resolves what a person typed (a petname, `@handle`, handle or user
    /// id) to a user id: contacts first, then the server's directory.
    ///
    /// Also accepted: any unique beginning of a contact's user id (at least
    /// [`MIN_ID_PREFIX`] characters, as shown in short ids). Nothing
    /// matching is [`ClientError::Unknown`], naming the closest contact.
    pub async fn resolve(&self, who: &str) -> Result<String, ClientError> {
        let contacts = self.contacts_map().await?;
        let bare = who.strip_prefix('@').unwrap_or(who);
        if let Some(contact) = contacts.values().find(|c| {
            c.user_id == who
                || c.petname.as_deref() == Some(who)
                || c.handle
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(bare))
        }) {
            return Ok(contact.user_id.clone());
        }
        if is_user_id(who) {
            return Ok(who.to_owned());
        }
        if who.chars().count() >= MIN_ID_PREFIX && !who.starts_with('@') {
            let matching: Vec<&Contact> = contacts
                .values()
                .filter(|c| c.user_id.starts_with(who))
                .collect();
            match matching.as_slice() {
                [one] => return Ok(one.user_id.clone()),
                [] => {}
                several => {
                    let names: Vec<String> = several.iter().map(|c| c.display_name()).collect();
                    return Err(ClientError::Invalid(format!(
                        "'{who}' begins the ids of several contacts ({}); give more of it",
                        names.join(", ")
                    )));
                }
            }
        }
        match self.api.user_by_handle(bare).await {
            Ok((record, _)) => Ok(record.user_id),
            Err(ClientError::Api {
                status: 400 | 404 | 422,
                ..
            }) => {
                let hint = closest_contact(who, contacts.values())
                    .map(|name| format!(" (did you mean {name}?)"))
                    .unwrap_or_default();
                Err(ClientError::Unknown(format!(
                    "person '{who}': no contact, handle or user id matches{hint}"
                )))
            }
            Err(err) => Err(err),
        }
    }

    /// Adds (or refreshes) a contact from the directory, checking the
    /// binding signature. `who` is a handle or user id.
    pub async fn add_contact(
        &self,
        who: &str,
        petname: Option<&str>,
    ) -> Result<(Contact, KeyCheck), ClientError> {
        let bare = who.strip_prefix('@').unwrap_or(who);
        let (record, identity) = if is_user_id(who) {
            self.api.user(who).await?
        } else {
            self.api.user_by_handle(bare).await?
        };
        let _guard = self.lock.acquire().await?;
        let check = self
            .note_keys(&record.user_id, &identity, record.handle.clone(), petname)
            .await?;
        let contact = self
            .contact(&record.user_id)
            .await?
            .ok_or_else(|| ClientError::Unknown(format!("contact {who}")))?;
        Ok((contact, check))
    }

    /// Records keys seen for `user_id` (from the directory, a bundle or a
    /// first message), adding the contact or noting a change. The caller
    /// holds the profile lock.
    pub(crate) async fn note_keys(
        &self,
        user_id: &str,
        identity: &PublicIdentity,
        handle: Option<String>,
        petname: Option<&str>,
    ) -> Result<KeyCheck, ClientError> {
        if crate::user_id_of(&identity.sign_pub) != user_id {
            return Err(ClientError::BadBinding(user_id.to_owned()));
        }
        let mut contacts = self.contacts_map().await?;
        let dh = identity.dh_pub.to_base64();
        let check = match contacts.get_mut(user_id) {
            None => {
                let mut contact = Contact::first_seen(user_id, identity, handle);
                contact.petname = petname.map(str::to_owned);
                contacts.insert(user_id.to_owned(), contact);
                KeyCheck::New
            }
            Some(contact) => {
                if handle.is_some() {
                    contact.handle = handle;
                }
                if let Some(name) = petname {
                    contact.petname = Some(name.to_owned());
                }
                if contact.dh_pub == dh {
                    KeyCheck::Same
                } else {
                    contact.changed_dh_pub = Some(dh);
                    contact.verified = false;
                    KeyCheck::Changed
                }
            }
        };
        self.vault.put_now(records::CONTACTS, &contacts).await?;
        if check == KeyCheck::Changed {
            tracing::warn!(%user_id, "a contact's keys changed");
        }
        Ok(check)
    }

    /// The 60-digit safety number shared with a contact: compare it with
    /// them in person or over a trusted channel, then [`Client::verify_contact`].
    pub async fn safety_number(&self, user_id: &str) -> Result<String, ClientError> {
        let contact = self
            .contact(user_id)
            .await?
            .ok_or_else(|| ClientError::Unknown(format!("contact {user_id}")))?;
        Ok(safety_number(&self.identity.public(), &contact.identity()?))
    }

    /// Marks a contact verified (after comparing safety numbers). Refused
    /// while a key change is pending: accept it first, then compare again.
    pub async fn verify_contact(&self, user_id: &str) -> Result<(), ClientError> {
        let _guard = self.lock.acquire().await?;
        let mut contacts = self.contacts_map().await?;
        let contact = contacts
            .get_mut(user_id)
            .ok_or_else(|| ClientError::Unknown(format!("contact {user_id}")))?;
        if contact.changed_dh_pub.is_some() {
            return Err(ClientError::KeyChanged(contact.display_name()));
        }
        contact.verified = true;
        self.vault.put_now(records::CONTACTS, &contacts).await
    }

    /// Accepts a contact's changed keys (they reinstalled, say). The contact
    /// stays unverified until the new safety number is compared.
    pub async fn accept_key_change(&self, user_id: &str) -> Result<(), ClientError> {
        let _guard = self.lock.acquire().await?;
        let mut contacts = self.contacts_map().await?;
        let contact = contacts
            .get_mut(user_id)
            .ok_or_else(|| ClientError::Unknown(format!("contact {user_id}")))?;
        if let Some(new) = contact.changed_dh_pub.take() {
            contact.dh_pub = new;
            contact.verified = false;
        }
        self.vault.put_now(records::CONTACTS, &contacts).await
    }

    /// Sets or clears a contact's petname.
    pub async fn set_petname(
        &self,
        user_id: &str,
        petname: Option<&str>,
    ) -> Result<(), ClientError> {
        let _guard = self.lock.acquire().await?;
        let mut contacts = self.contacts_map().await?;
        let contact = contacts
            .get_mut(user_id)
            .ok_or_else(|| ClientError::Unknown(format!("contact {user_id}")))?;
        contact.petname = petname.map(str::to_owned);
        self.vault.put_now(records::CONTACTS, &contacts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(petname: Option<&str>, handle: Option<&str>) -> Contact {
        Contact {
            user_id: "u".repeat(43),
            sign_pub: String::new(),
            dh_pub: String::new(),
            handle: handle.map(str::to_owned),
            petname: petname.map(str::to_owned),
            verified: false,
            changed_dh_pub: None,
            added_at: 0,
        }
    }

    #[test]
    fn a_typo_suggests_the_closest_contact_and_nonsense_suggests_nothing() {
        let contacts = [
            named(Some("bobby"), Some("bob")),
            named(None, Some("carol")),
        ];
        assert_eq!(
            closest_contact("bobyy", contacts.iter()),
            Some("bobby".into())
        );
        assert_eq!(
            closest_contact("@carl", contacts.iter()),
            Some("@carol".into())
        );
        assert_eq!(closest_contact("zzzzzzzz", contacts.iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
