//! Groups. The server keeps each group's roster and refuses a send that
//! does not cover it exactly; that roster decides delivery, but it is the
//! server's word. So the members also announce every change to each other
//! under the seal (a `group` content: who was added or removed, and the
//! group's name), and this device keeps the roster those announcements
//! confirm. A send goes out only when every member the server lists was
//! confirmed: a member the server added on its own (to read the group) is
//! refused, not written to. Removals need no confirmation: a member the
//! server drops simply gets nothing more.
//!
//! A group this device first sees without an announcement (one created by
//! an older version, say) is trusted as the server lists it the first time.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::client::{Client, records};
use crate::content::{Content, GroupUpdate};
use crate::error::{ClientError, Refusal};
use crate::messaging::{Conversation, Message, SendOptions};
use crate::vault::Batch;

/// What this device believes about a group, from sealed announcements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupState {
    /// The name, if a member set one.
    pub name: Option<String>,
    /// Members confirmed by an announcement from a member (or by me).
    pub confirmed: BTreeSet<String>,
}

impl Client {
    /// A group's members: as last seen (kept in the profile), or fresh from
    /// the server when `refresh` is set or none is kept. Sends use the kept
    /// roster; the server's 409 on a stale one triggers a refresh.
    pub async fn roster(&self, group_id: &str, refresh: bool) -> Result<Vec<String>, ClientError> {
        if !refresh
            && let Some(members) = self
                .vault
                .get_json::<Vec<String>>(&records::roster(group_id))
                .await?
        {
            return Ok(members);
        }
        let group = self.api.group(group_id).await?;
        self.keep_roster(&group).await?;
        Ok(group.members)
    }

    async fn keep_roster(&self, group: &glyph_api::Group) -> Result<(), ClientError> {
        self.vault
            .put_now(&records::roster(&group.group_id), &group.members)
            .await
    }

    pub(crate) async fn group_state(
        &self,
        group_id: &str,
    ) -> Result<Option<GroupState>, ClientError> {
        self.vault.get_json(&records::group(group_id)).await
    }

    /// The group's name, if a member set one (the server never sees it).
    pub async fn group_name(&self, group_id: &str) -> Result<Option<String>, ClientError> {
        Ok(self.group_state(group_id).await?.and_then(|s| s.name))
    }

    /// Members the server lists for a group that no member announced.
    pub async fn unconfirmed_members(&self, group_id: &str) -> Result<Vec<String>, ClientError> {
        let roster = self.roster(group_id, false).await?;
        let state = self.group_state(group_id).await?;
        Ok(match state {
            None => Vec::new(),
            Some(state) => roster
                .into_iter()
                .filter(|m| *m != self.user_id && !state.confirmed.contains(m))
                .collect(),
        })
    }

    /// The roster to send to: the server's (fresh when `refresh`), each
    /// member confirmed. Unconfirmed members may have been announced in
    /// messages not read yet, so it reads them once before refusing.
    pub(crate) async fn sendable_roster(
        &self,
        group_id: &str,
        refresh: bool,
    ) -> Result<Vec<String>, ClientError> {
        let roster = self.roster(group_id, refresh).await?;
        if self.group_state(group_id).await?.is_none() {
            let _guard = self.lock.acquire().await?;
            let state = GroupState {
                name: None,
                confirmed: roster.iter().cloned().collect(),
            };
            self.vault
                .put_now(&records::group(group_id), &state)
                .await?;
            return Ok(roster);
        }
        if self.unconfirmed_members(group_id).await?.is_empty() {
            return Ok(roster);
        }
        self.sync().await?;
        let unconfirmed = self.unconfirmed_members(group_id).await?;
        if unconfirmed.is_empty() {
            return Ok(roster);
        }
        tracing::warn!(
            group_id,
            ?unconfirmed,
            "the server lists members no member announced"
        );
        Err(ClientError::Refused(Refusal::UnconfirmedMembers(
            unconfirmed,
        )))
    }

    /// Records members as confirmed by me, with an optional name.
    async fn confirm_myself(
        &self,
        group_id: &str,
        added: &[String],
        removed: &[String],
        name: Option<&str>,
    ) -> Result<(), ClientError> {
        let _guard = self.lock.acquire().await?;
        let mut state = self.group_state(group_id).await?.unwrap_or_default();
        state.confirmed.extend(added.iter().cloned());
        state.confirmed.insert(self.user_id.clone());
        for member in removed {
            state.confirmed.remove(member);
        }
        if let Some(name) = name {
            state.name = Some(name.to_owned());
        }
        self.vault.put_now(&records::group(group_id), &state).await
    }

    /// Tells the members of a change, sealed.
    async fn announce(&self, group_id: &str, update: GroupUpdate) -> Result<Message, ClientError> {
        self.send(
            &Conversation::Group(group_id.to_owned()),
            Content::Group(update),
            SendOptions::default(),
        )
        .await
    }

    /// Creates a group with these people (petnames, handles or user ids),
    /// and tells them so under the seal.
    pub async fn create_group(&self, members: &[&str]) -> Result<glyph_api::Group, ClientError> {
        self.create_named_group(members, None).await
    }

    /// Creates a group with a name, which only its members ever see.
    pub async fn create_named_group(
        &self,
        members: &[&str],
        name: Option<&str>,
    ) -> Result<glyph_api::Group, ClientError> {
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            ids.push(self.resolve(member).await?);
        }
        let group = self.api.create_group(&ids).await?;
        self.keep_roster(&group).await?;
        self.confirm_myself(&group.group_id, &group.members, &[], name)
            .await?;
        let update = GroupUpdate {
            name: name.map(str::to_owned),
            members: group.members.clone(),
            added: ids,
            removed: Vec::new(),
        };
        self.announce(&group.group_id, update).await?;
        Ok(group)
    }

    /// Names (or renames) a group, for its members only.
    pub async fn set_group_name(&self, group_id: &str, name: &str) -> Result<(), ClientError> {
        let members = self.roster(group_id, true).await?;
        self.confirm_myself(group_id, &[], &[], Some(name)).await?;
        let update = GroupUpdate {
            name: Some(name.to_owned()),
            members,
            added: Vec::new(),
            removed: Vec::new(),
        };
        self.announce(group_id, update).await.map(|_| ())
    }

    /// Adds someone to a group, and tells the members.
    pub async fn add_to_group(
        &self,
        group_id: &str,
        who: &str,
    ) -> Result<glyph_api::Group, ClientError> {
        let user = self.resolve(who).await?;
        let group = self.api.add_member(group_id, &user).await?;
        self.keep_roster(&group).await?;
        self.confirm_myself(group_id, std::slice::from_ref(&user), &[], None)
            .await?;
        let update = GroupUpdate {
            name: None,
            members: group.members.clone(),
            added: vec![user],
            removed: Vec::new(),
        };
        self.announce(group_id, update).await?;
        Ok(group)
    }

    /// Removes someone from a group (myself: leave), and tells the members.
    pub async fn remove_from_group(
        &self,
        group_id: &str,
        who: &str,
    ) -> Result<glyph_api::Group, ClientError> {
        let user = if who == self.user_id {
            who.to_owned()
        } else {
            self.resolve(who).await?
        };
        let leaving = user == self.user_id;
        if leaving {
            // Said while still a member: afterwards the server refuses it.
            let members = self.roster(group_id, true).await?;
            let update = GroupUpdate {
                name: None,
                members: members.into_iter().filter(|m| *m != user).collect(),
                added: Vec::new(),
                removed: vec![user.clone()],
            };
            self.announce(group_id, update).await?;
        }
        let group = self.api.remove_member(group_id, &user).await?;
        self.keep_roster(&group).await?;
        self.confirm_myself(group_id, &[], std::slice::from_ref(&user), None)
            .await?;
        if !leaving && group.members.len() > 1 {
            let update = GroupUpdate {
                name: None,
                members: group.members.clone(),
                added: Vec::new(),
                removed: vec![user],
            };
            self.announce(group_id, update).await?;
        }
        Ok(group)
    }

    /// The group `which` names: its id, any unique beginning of its id (at
    /// least [`crate::MIN_ID_PREFIX`] characters), or its name.
    pub async fn resolve_group(&self, which: &str) -> Result<String, ClientError> {
        let groups = self.groups().await?;
        if groups.iter().any(|g| g.group_id == which) {
            return Ok(which.to_owned());
        }
        let mut matching = Vec::new();
        for group in &groups {
            let named = self.group_name(&group.group_id).await?.as_deref() == Some(which);
            let prefix =
                which.chars().count() >= crate::MIN_ID_PREFIX && group.group_id.starts_with(which);
            if named || prefix {
                matching.push(group.group_id.clone());
            }
        }
        match matching.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ClientError::Unknown(format!(
                "group '{which}': none of your groups has this id or name"
            ))),
            _ => Err(ClientError::Invalid(format!(
                "'{which}' names several of your groups; give more of the id"
            ))),
        }
    }

    /// My groups (fresh from the server; their rosters are kept).
    pub async fn groups(&self) -> Result<Vec<glyph_api::Group>, ClientError> {
        let groups = self.api.groups().await?.groups;
        for group in &groups {
            self.keep_roster(group).await?;
        }
        Ok(groups)
    }

    /// Applies a received announcement to what this device believes,
    /// staging the change in `batch`; returns a warning when it is not one
    /// to believe. The caller holds the profile lock.
    pub(crate) async fn apply_group_update(
        &self,
        batch: &mut Batch,
        sender: &str,
        group_id: &str,
        update: &GroupUpdate,
    ) -> Result<Option<String>, ClientError> {
        let state = match self.group_state(group_id).await? {
            // First sight: an invitation, believed if it lists me and its sender.
            None if update.members.contains(&self.user_id)
                && update.members.iter().any(|m| m == sender) =>
            {
                GroupState {
                    name: update.name.clone(),
                    confirmed: update.members.iter().cloned().collect(),
                }
            }
            Some(mut state) if state.confirmed.contains(sender) || sender == self.user_id => {
                state.confirmed.extend(update.added.iter().cloned());
                for member in &update.removed {
                    state.confirmed.remove(member);
                }
                if update.name.is_some() {
                    state.name = update.name.clone();
                }
                state
            }
            _ => {
                return Ok(Some(
                    "a change to the group announced by someone this device does not know as a member; ignored"
                        .into(),
                ));
            }
        };
        self.vault
            .put_json(batch, &records::group(group_id), &state)?;
        Ok(None)
    }

    /// Whether `sender` is a member of `group_id` as far as this device
    /// knows (always true for a group it has no announcements for).
    pub(crate) async fn known_member(
        &self,
        group_id: &str,
        sender: &str,
    ) -> Result<bool, ClientError> {
        Ok(match self.group_state(group_id).await? {
            Some(state) => state.confirmed.contains(sender),
            None => true,
        })
    }
}
