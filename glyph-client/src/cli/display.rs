//! What the command line prints: lines to standard output (a closed pipe
//! ends the program quietly), times, short ids, messages with their
//! receipts and reactions, and the events annotations bring.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use crate::{Client, Content, Conversation, Delivery, Message, ReceiptKind};

/// Prints a line to standard output. A closed pipe (`glyph read | head`)
/// is not an error: the program stops quietly with success.
macro_rules! say {
    () => {
        $crate::cli::display::emit(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::display::emit(format_args!($($arg)*))
    };
}
pub(crate) use say;

pub(crate) fn emit(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(err) = writeln!(out, "{line}").and_then(|()| out.flush())
        && err.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// How many characters of an id are shown (more than the fewest accepted,
/// [`crate::MIN_ID_PREFIX`], so what is shown can be typed back).
pub(super) const SHORT_ID: usize = 8;

/// The first characters of an id, as shown.
pub(super) fn short(id: &str) -> &str {
    id.get(..SHORT_ID).unwrap_or(id)
}

/// A time as `YYYY-MM-DD HH:MM` UTC.
pub(super) fn format_time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// A person as shown: "me", their petname or @handle, else a short id.
pub(super) async fn name_of(client: &Client, user_id: &str) -> String {
    if user_id == client.user_id() {
        return "me".into();
    }
    match client.contact(user_id).await {
        Ok(Some(contact)) if contact.petname.is_some() || contact.handle.is_some() => {
            contact.display_name()
        }
        _ => short(user_id).to_owned(),
    }
}

/// A group as shown: its name, else a short id.
pub(super) async fn group_label(client: &Client, group_id: &str) -> String {
    match client.group_name(group_id).await {
        Ok(Some(name)) => format!("\"{name}\" ({})", short(group_id)),
        _ => short(group_id).to_owned(),
    }
}

/// One message: `[N] time sender (to whom): text`, then what others said
/// of it.
pub(super) async fn print_message(client: &Client, message: &Message) {
    if message.content.is_annotation() {
        print_event(client, message).await;
        return;
    }
    let from = name_of(client, &message.sender).await;
    let place = match &message.conversation {
        Conversation::Group(id) => format!(" in {}", group_label(client, id).await),
        Conversation::Peer(peer) if message.outgoing => {
            format!(" to {}", name_of(client, peer).await)
        }
        Conversation::Peer(_) => String::new(),
    };
    let mut marks = Vec::new();
    if message.expires_at.is_some() {
        marks.push("disappearing".to_owned());
    }
    if message.annotations.edited_at.is_some() {
        marks.push("edited".to_owned());
    }
    if message.outgoing {
        marks.push(progress(message));
    }
    let marks = if marks.is_empty() {
        String::new()
    } else {
        format!("  ({})", marks.join(", "))
    };
    let text = match &message.content {
        Content::Group(update) => group_update(client, update).await,
        content => content.summary(),
    };
    say!(
        "[{}] {} {from}{place}: {text}{marks}",
        message.local_id,
        format_time(message.sent_at),
    );
    if !message.annotations.reactions.is_empty() {
        let mut reactions = Vec::new();
        for (who, emoji) in &message.annotations.reactions {
            reactions.push(format!("{emoji} {}", name_of(client, who).await));
        }
        say!("    reactions: {}", reactions.join(", "));
    }
    if let Some(warning) = &message.warning {
        say!("    (!) authentic, but the server lied about it: {warning}");
    }
}

/// A roster announcement with names instead of ids.
async fn group_update(client: &Client, update: &crate::GroupUpdate) -> String {
    let mut parts = Vec::new();
    if let Some(name) = &update.name {
        parts.push(format!("named the group \"{name}\""));
    }
    for (verb, people) in [("added", &update.added), ("removed", &update.removed)] {
        if !people.is_empty() {
            let mut names = Vec::new();
            for person in people {
                names.push(name_of(client, person).await);
            }
            parts.push(format!("{verb} {}", names.join(", ")));
        }
    }
    if parts.is_empty() {
        parts.push(format!("listed {} members", update.members.len()));
    }
    format!("[group: {}]", parts.join("; "))
}

/// How far a message I sent got: queued, sent, delivered or read.
fn progress(message: &Message) -> String {
    if message.delivery == Delivery::Pending {
        return "queued".into();
    }
    let receipts = &message.annotations.receipts;
    let read = receipts
        .values()
        .filter(|k| **k == ReceiptKind::Read)
        .count();
    let delivered = receipts.len();
    match (&message.conversation, read, delivered) {
        (Conversation::Peer(_), 1.., _) => "read".into(),
        (Conversation::Peer(_), _, 1..) => "delivered".into(),
        (Conversation::Group(_), 1.., _) => format!("read by {read}, delivered to {delivered}"),
        (Conversation::Group(_), _, 1..) => format!("delivered to {delivered}"),
        _ => "sent".into(),
    }
}

/// What an annotation did, naming the message it changed.
async fn print_event(client: &Client, note: &Message) {
    let who = name_of(client, &note.sender).await;
    let target = note.local_id;
    match &note.content {
        Content::Receipt { kind, .. } => {
            let what = match kind {
                ReceiptKind::Delivered => "received",
                ReceiptKind::Read => "read",
            };
            say!("[{target}] {who} {what} it");
        }
        Content::Reaction { emoji, .. } if emoji.is_empty() => {
            say!("[{target}] {who} took their reaction back");
        }
        Content::Reaction { emoji, .. } => say!("[{target}] {who} reacted {emoji}"),
        Content::Edit { body, .. } => say!("[{target}] {who} edited it: {body}"),
        Content::Delete { .. } => say!("[{target}] {who} deleted it"),
        other => say!("[{target}] {who}: {}", other.summary()),
    }
}

/// A progress bar on standard error (hidden when it is not a terminal)
/// for a file of `size` bytes, and the callback that moves it.
pub(super) fn progress_bar(size: u64) -> (indicatif::ProgressBar, crate::Progress) {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(size)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let shown = bar.clone();
    let report: crate::Progress = Arc::new(move |done, all| {
        // The transfer is the sealed blob (the file and a 16-byte tag):
        // shown as the file's own size.
        let size = if size == 0 { all.max(1) } else { size };
        shown.set_length(size);
        shown.set_position(done.min(size));
    });
    (bar, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted_as_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_time(1_795_377_600), "2026-11-22 20:00");
    }

    #[test]
    fn short_ids_can_be_typed_back() {
        const { assert!(SHORT_ID >= crate::MIN_ID_PREFIX) };
        assert_eq!(short("abcdefghijkl"), "abcdefgh");
        assert_eq!(short("abc"), "abc");
    }
}
