//! The command line's grammar: every command, its arguments and its help.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// glyph: end-to-end encrypted messaging from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "glyph",
    version,
    about = "glyph: end-to-end encrypted messaging from the command line.",
    after_help = super::EXIT_CODES
)]
pub struct Cli {
    /// The server, e.g. https://glyph.example.org (needed by init, restore
    /// and share create; afterwards the profile remembers it).
    #[arg(long, env = "GLYPH_SERVER", global = true)]
    pub(super) server: Option<String>,
    /// The profile directory (default: ~/.glyph).
    #[arg(long, env = "GLYPH_PROFILE", global = true)]
    pub(super) profile: Option<PathBuf>,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Create an account: shows your 12 recovery words once.
    Init,
    /// Set up this computer for your account from its 12 words (read from
    /// GLYPH_WORDS or stdin): it is linked as one more device, and your
    /// other devices keep working.
    Restore,
    /// Show your user id, handle, safety code and device.
    Whoami,
    /// This account's devices; `devices remove ID` removes a lost one.
    Devices {
        #[command(subcommand)]
        action: Option<DevicesAction>,
    },
    /// Set your handle in the server's directory.
    Handle {
        #[command(subcommand)]
        action: HandleAction,
    },
    /// Manage contacts and trust.
    Contact {
        #[command(subcommand)]
        action: ContactAction,
    },
    /// Send a text message.
    Send {
        /// Petname, @handle, user id or its first characters.
        #[arg(allow_hyphen_values = true)]
        to: String,
        /// The text (several words are joined with spaces).
        #[arg(required = true)]
        text: Vec<String>,
        /// Disappear this long after sending: 30s, 10m, 2h, 7d (or seconds).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Fetch new messages and print them; with a name or --group, print
    /// that conversation's history (from this device, even offline).
    /// Printing marks messages read.
    Read {
        /// Petname, @handle, user id or its first characters.
        #[arg(allow_hyphen_values = true)]
        who: Option<String>,
        /// A group: its id, the id's first characters, or its name.
        #[arg(long, conflicts_with = "who", allow_hyphen_values = true)]
        group: Option<String>,
    },
    /// Receive live and print messages as they arrive (Ctrl-C stops).
    Listen,
    /// React to a message (by the number `read` shows); `--remove` takes
    /// your reaction back.
    React {
        /// The message number.
        message: i64,
        /// The reaction, e.g. 👍 (at most 16 characters).
        #[arg(required_unless_present = "remove")]
        emoji: Option<String>,
        /// Take your reaction back.
        #[arg(long, conflicts_with = "emoji")]
        remove: bool,
    },
    /// Change the text of a message you sent, for everyone.
    Edit {
        /// The message number.
        message: i64,
        /// The new text.
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// Delete a message you sent, for everyone.
    Delete {
        /// The message number.
        message: i64,
    },
    /// Whether this profile sends delivery and read receipts (on by
    /// default); without an argument, say which.
    Receipts {
        /// on or off.
        state: Option<OnOff>,
    },
    /// Groups.
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Send a file (at most 25 MiB), sealed on this device.
    SendFile {
        /// Petname, @handle or user id (or a group with --group).
        #[arg(allow_hyphen_values = true)]
        to: String,
        /// The file.
        path: PathBuf,
        /// The recipient may view it once; the server then deletes it.
        #[arg(long)]
        view_once: bool,
        /// `to` is a group (id, first characters of the id, or name).
        #[arg(long)]
        group: bool,
    },
    /// Download, decrypt and check a received file by its message number.
    GetFile {
        /// The message number `read` shows in brackets.
        message: i64,
        /// Where to write it (default: its name, in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Set a conversation's disappearing-message timer.
    Timer {
        /// Petname, @handle or user id (or a group with --group).
        #[arg(allow_hyphen_values = true)]
        who: String,
        /// 30s, 10m, 2h, 7d, a number of seconds (1 s to 365 days), or off.
        value: String,
        /// `who` is a group (id, first characters of the id, or name).
        #[arg(long)]
        group: bool,
    },
    /// One-view share links.
    Share {
        #[command(subcommand)]
        action: ShareAction,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub(super) enum DevicesAction {
    /// List them (the default).
    List,
    /// Remove one of your other devices (a lost phone): it gets nothing
    /// more and the server refuses it.
    Remove {
        /// Its id, as `glyph devices` shows it.
        id: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum HandleAction {
    /// Set it.
    Set {
        /// 3-32 of a-z 0-9 _ . -, starting with a letter.
        handle: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ContactAction {
    /// Add someone by @handle or user id.
    Add {
        /// @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
        /// Your name for them (stays on this device).
        #[arg(long)]
        name: Option<String>,
    },
    /// Change your name for a contact.
    Rename {
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
        /// The new name.
        name: String,
    },
    /// Show the safety number to compare; mark verified when they match.
    Verify {
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
        /// Mark verified without asking (you compared already).
        #[arg(long)]
        yes: bool,
    },
    /// Accept a contact's changed keys (then verify again).
    Accept {
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
    },
    /// List contacts.
    List,
}

#[derive(Debug, Subcommand)]
pub(super) enum GroupAction {
    /// Create a group with these people; prints its short id. Give
    /// `--name` before the members (ids may begin with '-').
    Create {
        /// Petnames, @handles or user ids.
        #[arg(required = true, allow_hyphen_values = true)]
        members: Vec<String>,
        /// A name for it (sealed to the members; the server never sees it).
        #[arg(long)]
        name: Option<String>,
    },
    /// Name (or rename) a group.
    Rename {
        /// The group: id, first characters of the id, or name.
        #[arg(allow_hyphen_values = true)]
        group: String,
        /// The new name.
        name: String,
    },
    /// Add a member.
    Add {
        /// The group: id, first characters of the id, or name.
        #[arg(allow_hyphen_values = true)]
        group: String,
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
    },
    /// Remove a member.
    Remove {
        /// The group: id, first characters of the id, or name.
        #[arg(allow_hyphen_values = true)]
        group: String,
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
    },
    /// Send text to the group.
    Send {
        /// The group: id, first characters of the id, or name.
        #[arg(allow_hyphen_values = true)]
        group: String,
        /// The text.
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// List my groups.
    List,
}

#[derive(Debug, Subcommand)]
pub(super) enum ShareAction {
    /// Make a link that opens a secret a limited number of times.
    Create {
        /// The secret (else --file, else stdin).
        text: Option<String>,
        /// Share a file's contents (at most 1 MiB).
        #[arg(long, conflicts_with = "text")]
        file: Option<PathBuf>,
        /// How many times it may be opened.
        #[arg(long, default_value_t = 1)]
        views: u32,
        /// Lifetime in seconds (at most 86400).
        #[arg(long, default_value_t = 86400)]
        ttl: u64,
    },
    /// Open a link (spends one view) and print the secret.
    Open {
        /// The whole link, including #key=.
        link: String,
    },
}
