//! Commands about people and accounts: init, restore, whoami, handle,
//! devices, contacts and groups.

use std::io::{BufRead, Write};

use super::args::{Cli, ContactAction, DevicesAction, GroupAction};
use super::display::{format_time, group_label, name_of, say, short};
use super::input;
use crate::{Client, ClientError};

/// Refuses to set up a profile where one exists, before anything is asked
/// or sent (no orphan account on the server).
fn check_no_profile(cli: &Cli) -> Result<std::path::PathBuf, ClientError> {
    let profile = input::profile_dir(cli)?;
    let vault = crate::vault_path(&profile);
    if vault.exists() {
        return Err(ClientError::ProfileExists(vault.display().to_string()));
    }
    Ok(profile)
}

pub(super) async fn init(cli: &Cli) -> Result<(), ClientError> {
    let profile = check_no_profile(cli)?;
    let server = input::server(cli)?;
    let pin = input::read_pin(true)?;
    let (client, words) = Client::create(&profile, &pin, &server).await?;
    say!(
        "Your recovery words (write them down; they are shown only this once):\n\n    {}\n",
        words.phrase()
    );
    say!(
        "user id:     {}\nsafety code: {}",
        client.user_id(),
        client.safety_code()
    );
    Ok(())
}

pub(super) async fn restore(cli: &Cli) -> Result<(), ClientError> {
    let profile = check_no_profile(cli)?;
    let server = input::server(cli)?;
    let words = input::read_words()?;
    // The words are checked before the PIN is asked for.
    glyph_crypto::Mnemonic::parse(&words)?;
    let pin = input::read_pin(true)?;
    let client = Client::restore(&profile, &pin, &server, &words).await?;
    say!(
        "Restored {} (safety code {}) as device {}.\n\
         Your other devices keep working; this one receives what is sent from now on.",
        client.user_id(),
        client.safety_code(),
        client.device_id()
    );
    Ok(())
}

pub(super) async fn whoami(client: &Client) -> Result<(), ClientError> {
    let handle = match client.handle().await {
        Ok(Some(handle)) => format!("@{handle}"),
        Ok(None) => "(none: glyph handle set NAME)".into(),
        Err(ClientError::Network(_)) => "(unknown: the server is unreachable)".into(),
        Err(err) => return Err(err),
    };
    say!(
        "user id:     {}\nhandle:      {handle}\nsafety code: {}\ndevice:      {}\nserver:      {}",
        client.user_id(),
        client.safety_code(),
        client.device_id(),
        client.server()
    );
    Ok(())
}

pub(super) async fn handle(client: &Client, handle: &str) -> Result<(), ClientError> {
    client.set_handle(handle).await?;
    say!("Your handle is now @{}.", handle.to_ascii_lowercase());
    Ok(())
}

pub(super) async fn devices(
    client: &Client,
    action: Option<&DevicesAction>,
) -> Result<(), ClientError> {
    match action {
        None | Some(DevicesAction::List) => {
            for device in client.devices().await? {
                let seen = device
                    .last_seen_at
                    .map_or_else(|| "never".to_owned(), format_time);
                let this = if device.this_device {
                    "  (this device)"
                } else {
                    ""
                };
                say!(
                    "{:>10}  linked {}  last seen {seen}{this}",
                    device.device_id,
                    format_time(device.linked_at)
                );
            }
        }
        Some(DevicesAction::Remove { id }) => {
            client.remove_device(*id).await?;
            say!("Removed device {id}: it receives nothing more and the server refuses it.");
        }
    }
    Ok(())
}

pub(super) async fn contact(client: &Client, action: &ContactAction) -> Result<(), ClientError> {
    match action {
        ContactAction::Add { who, name } => {
            // Renaming someone is its own command: say so rather than
            // silently replace the name.
            if let Some(name) = name
                && let Ok(existing) = client.resolve(who).await
                && let Some(contact) = client.contact(&existing).await?
                && contact.petname.as_deref().is_some_and(|old| old != name)
            {
                return Err(ClientError::Invalid(format!(
                    "{} is already a contact; to rename: glyph contact rename {} {name}",
                    contact.display_name(),
                    contact.display_name()
                )));
            }
            let (contact, check) = client.add_contact(who, name.as_deref()).await?;
            if check == crate::KeyCheck::Changed {
                say!(
                    "WARNING: the keys of {} changed since you added them. Compare the safety number again.",
                    contact.display_name()
                );
                return Err(ClientError::KeyChanged(contact.display_name()));
            }
            say!(
                "Added {} ({}), safety code {}.",
                contact.display_name(),
                short(&contact.user_id),
                contact.identity()?.fingerprint()
            );
        }
        ContactAction::Rename { who, name } => {
            let user = client.resolve(who).await?;
            if client.contact(&user).await?.is_none() {
                return Err(ClientError::Unknown(format!(
                    "contact '{who}': add them first with glyph contact add"
                )));
            }
            client.set_petname(&user, Some(name)).await?;
            say!("{who} is now {name}.");
        }
        ContactAction::Verify { who, yes } => {
            let user = client.resolve(who).await?;
            if client.contact(&user).await?.is_none() {
                client.add_contact(&user, None).await?;
            }
            let number = client.safety_number(&user).await?;
            let groups: Vec<&str> = (0..12)
                .filter_map(|i| number.get(i * 5..i * 5 + 5))
                .collect();
            let lines: Vec<String> = groups.chunks(6).map(|line| line.join(" ")).collect();
            say!(
                "Safety number with {who}:\n\n    {}\n",
                lines.join("\n    ")
            );
            let confirmed = *yes || {
                print!("Does it match what {who} sees? [y/N] ");
                std::io::stdout().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                answer.trim().eq_ignore_ascii_case("y")
            };
            if confirmed {
                client.verify_contact(&user).await?;
                say!("{who} is verified.");
            } else {
                say!("Not verified.");
            }
        }
        ContactAction::Accept { who } => {
            let user = client.resolve(who).await?;
            client.accept_key_change(&user).await?;
            say!(
                "Accepted the new keys of {who}. Compare the safety number again: glyph contact verify {who}"
            );
        }
        ContactAction::List => {
            for contact in client.contacts().await? {
                let state = if contact.changed_dh_pub.is_some() {
                    "KEYS CHANGED"
                } else if contact.verified {
                    "verified"
                } else {
                    "unverified"
                };
                let name = contact.display_name();
                if name == contact.user_id {
                    say!("{}  {state}", short(&name));
                } else {
                    say!("{name}  {}  {state}", short(&contact.user_id));
                }
            }
        }
    }
    Ok(())
}

pub(super) async fn group(client: &Client, action: &GroupAction) -> Result<(), ClientError> {
    match action {
        GroupAction::Create { members, name } => {
            let names: Vec<&str> = members.iter().map(String::as_str).collect();
            let group = client.create_named_group(&names, name.as_deref()).await?;
            say!("{}", short(&group.group_id));
        }
        GroupAction::Rename { group, name } => {
            let group = client.resolve_group(group).await?;
            client.set_group_name(&group, name).await?;
            say!("The group {} is now \"{name}\".", short(&group));
        }
        GroupAction::Add { group, who } => {
            let group = client.resolve_group(group).await?;
            let roster = client.add_to_group(&group, who).await?;
            say!("{} members.", roster.members.len());
        }
        GroupAction::Remove { group, who } => {
            let group = client.resolve_group(group).await?;
            let roster = client.remove_from_group(&group, who).await?;
            say!("{} members.", roster.members.len());
        }
        GroupAction::Send { group, text } => {
            let group = client.resolve_group(group).await?;
            let sent = client.send_group_text(&group, &input::text(text)?).await?;
            if sent.delivery == crate::Delivery::Pending {
                say!("Queued [{}].", sent.local_id);
                return Err(ClientError::Network(format!(
                    "message [{}] is queued: it goes out with the next send, read or listen",
                    sent.local_id
                )));
            }
            say!("Sent [{}].", sent.local_id);
        }
        GroupAction::List => {
            for group in client.groups().await? {
                let mut names = Vec::new();
                for member in &group.members {
                    names.push(name_of(client, member).await);
                }
                say!(
                    "{}  {}",
                    group_label(client, &group.group_id).await,
                    names.join(", ")
                );
            }
        }
    }
    Ok(())
}
