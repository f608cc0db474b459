//! Commands about messages: send, read, listen, react, edit, delete,
//! receipts, files and timers.

use std::io::Write;
use std::path::Path;

use super::args::OnOff;
use super::display::{group_label, name_of, print_message, progress_bar, say};
use super::input;
use crate::{Client, ClientError, Content, Conversation, LiveEvent, Message};

/// The conversation a command names: a person, or a group with `--group`.
async fn conversation(
    client: &Client,
    who: &str,
    group: bool,
) -> Result<Conversation, ClientError> {
    Ok(if group {
        Conversation::Group(client.resolve_group(who).await?)
    } else {
        Conversation::Peer(client.resolve(who).await?)
    })
}

/// Says a message went out; one the server could not take is queued, and
/// the command fails with exit code 4 so a script knows.
fn report_sent(message: &Message) -> Result<(), ClientError> {
    if message.delivery == crate::Delivery::Pending {
        say!("Queued [{}].", message.local_id);
        return Err(ClientError::Network(format!(
            "message [{}] is queued: it goes out with the next send, read or listen",
            message.local_id
        )));
    }
    say!("Sent [{}].", message.local_id);
    Ok(())
}

pub(super) async fn send(
    client: &Client,
    to: &str,
    text: &[String],
    expires: Option<&str>,
) -> Result<(), ClientError> {
    let body = input::text(text)?;
    let expires_in = match expires {
        Some(value) => Some(input::duration(value)?.ok_or_else(|| {
            ClientError::Invalid("--expires needs a duration such as 1h (not off)".into())
        })?),
        None => None,
    };
    let peer = client.resolve(to).await?;
    let options = crate::SendOptions {
        expires_in,
        ..Default::default()
    };
    let sent = client
        .send(&Conversation::Peer(peer), Content::Text { body }, options)
        .await?;
    report_sent(&sent)
}

pub(super) async fn read(
    client: &Client,
    who: Option<&str>,
    group: Option<&str>,
) -> Result<(), ClientError> {
    let synced = client.sync().await;
    let conversation = match (who, group) {
        (Some(who), _) => Some(Conversation::Peer(client.resolve(who).await?)),
        (None, Some(group)) => Some(match &synced {
            Ok(_) => Conversation::Group(client.resolve_group(group).await?),
            // Offline: the group must be named by its whole id.
            Err(_) => Conversation::Group(group.to_owned()),
        }),
        (None, None) => None,
    };
    let Some(conversation) = conversation else {
        let new = synced?;
        return print_new(client, &new).await;
    };
    // A conversation's history is on this device: shown even offline.
    if let Err(err) = &synced {
        if !matches!(err, ClientError::Network(_)) {
            return synced.map(|_| ());
        }
        eprintln!("(the server is unreachable: showing what this device has)");
    }
    for message in client.history(&conversation).await? {
        print_message(client, &message).await;
    }
    client.mark_read(&conversation).await?;
    Ok(())
}

/// New messages, then marking their conversations read.
async fn print_new(client: &Client, new: &[Message]) -> Result<(), ClientError> {
    if new.is_empty() {
        say!("No new messages.");
        return Ok(());
    }
    let mut read = Vec::new();
    for message in new {
        print_message(client, message).await;
        if !message.outgoing
            && !message.content.is_annotation()
            && !read.contains(&message.conversation)
        {
            read.push(message.conversation.clone());
        }
    }
    for conversation in &read {
        client.mark_read(conversation).await?;
    }
    let refused = new
        .iter()
        .filter(|m| matches!(m.content, Content::Refused { .. }))
        .count();
    if refused > 0 {
        return Err(ClientError::Refused(crate::Refusal::Messages(refused)));
    }
    Ok(())
}

pub(super) async fn listen(client: &Client) -> Result<(), ClientError> {
    eprintln!(
        "Listening as {} (Ctrl-C stops).",
        name_of(client, client.user_id()).await
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (sender, mut printed) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let printer = async {
        while let Some(message) = printed.recv().await {
            print_message(client, &message).await;
            let _ = std::io::stdout().flush();
            if !message.outgoing && !message.content.is_annotation() {
                // Shown: read.
                if let Err(err) = client.mark_read(&message.conversation).await {
                    eprintln!("(marking read failed: {err})");
                }
            }
        }
    };
    let listening = async {
        let result = client
            .listen(
                stop,
                |message| {
                    let _ = sender.send(message.clone());
                },
                |event| match event {
                    LiveEvent::CaughtUp => eprintln!("(up to date)"),
                    LiveEvent::Reconnecting(delay, why) => eprintln!(
                        "(connection lost: {why}; retrying in {} s)",
                        delay.as_secs()
                    ),
                },
            )
            .await;
        drop(sender);
        result
    };
    let (result, ()) = tokio::join!(listening, printer);
    result
}

pub(super) async fn react(client: &Client, message: i64, emoji: &str) -> Result<(), ClientError> {
    let sent = client.react(message, emoji).await?;
    if emoji.is_empty() {
        say!("Took your reaction to [{message}] back.");
    } else {
        say!("Reacted {emoji} to [{message}].");
    }
    queued_note(&sent)
}

pub(super) async fn edit(
    client: &Client,
    message: i64,
    text: &[String],
) -> Result<(), ClientError> {
    let sent = client.edit_message(message, &input::text(text)?).await?;
    say!("Edited [{message}] for everyone.");
    queued_note(&sent)
}

pub(super) async fn delete(client: &Client, message: i64) -> Result<(), ClientError> {
    let sent = client.delete_message(message).await?;
    say!("Deleted [{message}] for everyone.");
    queued_note(&sent)
}

/// An annotation the server could not take yet goes out later: exit 4.
fn queued_note(sent: &Message) -> Result<(), ClientError> {
    if sent.delivery == crate::Delivery::Pending {
        return Err(ClientError::Network(
            "the server is unreachable: the change is queued and goes out with the next send, read or listen"
                .into(),
        ));
    }
    Ok(())
}

pub(super) async fn receipts(client: &Client, state: Option<OnOff>) -> Result<(), ClientError> {
    if let Some(state) = state {
        client.set_receipts(state == OnOff::On).await?;
    }
    if client.receipts_enabled().await? {
        say!(
            "Receipts are on: people you talk to see when their messages reach you and when you read them."
        );
    } else {
        say!("Receipts are off: nobody learns when you received or read their messages.");
    }
    Ok(())
}

pub(super) async fn send_file(
    client: &Client,
    to: &str,
    path: &Path,
    view_once: bool,
    group: bool,
) -> Result<(), ClientError> {
    let size = std::fs::metadata(path)
        .map_err(|e| ClientError::local_file(path, &e))?
        .len();
    let conversation = conversation(client, to, group).await?;
    let (bar, progress) = progress_bar(size);
    let sent = client
        .send_file(&conversation, path, view_once, Some(progress))
        .await;
    bar.finish_and_clear();
    report_sent(&sent?)
}

pub(super) async fn get_file(
    client: &Client,
    message: i64,
    out: Option<&Path>,
    force: bool,
) -> Result<(), ClientError> {
    let stored = client.message(message).await?;
    let Content::Media(descriptor) = &stored.content else {
        return match stored.content {
            Content::Viewed { .. } => Err(ClientError::AlreadyViewed),
            _ => Err(ClientError::Invalid(format!(
                "message [{message}] holds no file"
            ))),
        };
    };
    let target = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| safe_file_name(&descriptor.name).into());
    // Checked before anything is downloaded (a view-once file is spent by
    // opening it).
    if target.exists() && !force {
        return Err(ClientError::LocalFile {
            path: target.display().to_string(),
            reason: "it exists already; add --force to replace it, or --out to choose another name"
                .into(),
        });
    }
    let (bar, progress) = progress_bar(descriptor.size);
    let opened = client.open_media(message, Some(progress)).await;
    bar.finish_and_clear();
    let (descriptor, file) = opened?;
    std::fs::write(&target, &file).map_err(|e| ClientError::local_file(&target, &e))?;
    let once = if descriptor.view_once {
        " (view-once: it is now deleted from the server)"
    } else {
        ""
    };
    say!(
        "Saved {} ({} bytes, checksum verified){once}.",
        target.display(),
        file.len()
    );
    Ok(())
}

pub(super) async fn timer(
    client: &Client,
    who: &str,
    value: &str,
    group: bool,
) -> Result<(), ClientError> {
    let seconds = input::duration(value)?;
    let conversation = conversation(client, who, group).await?;
    client.set_timer(&conversation, seconds).await?;
    let name = match &conversation {
        Conversation::Peer(peer) => name_of(client, peer).await,
        Conversation::Group(id) => format!("group {}", group_label(client, id).await),
    };
    match seconds {
        Some(secs) => say!(
            "Messages you send to {name} now disappear {} after sending.",
            input::human_duration(secs)
        ),
        None => say!("Messages you send to {name} no longer disappear."),
    }
    Ok(())
}

/// A received file name, reduced to a plain name in the current directory.
fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "received-file".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_file_names_cannot_escape_the_directory() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name(".."), "received-file");
        assert_eq!(safe_file_name("a\\b.txt"), "b.txt");
        assert_eq!(safe_file_name("ok.png"), "ok.png");
    }
}
