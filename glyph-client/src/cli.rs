//! The `glyph` command line, built on the library. Every command takes
//! `--server` and `--profile` (or `GLYPH_SERVER`, `GLYPH_PROFILE`); the PIN
//! is prompted for, or read from `GLYPH_PIN` for scripts. User ids are
//! base64url and may begin with '-', so every argument that takes a user or
//! group id accepts a leading hyphen.
//!
//! Exit codes: 0 success; 1 any other failure; 2 bad usage; 3 wrong PIN, no
//! profile, or this device was removed from the account; 4 the server is unreachable; 5 the server refused; 6 a
//! cryptographic or integrity check failed; 7 a contact's keys changed; 8
//! refused: what the server presented is not what it claims (a message not
//! from its sender, a group member no member announced).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::{Client, ClientError, Content, Conversation, LiveEvent, Message};

/// Prints a line to standard output. A closed pipe (`glyph read | head`)
/// is not an error: the program stops quietly with success.
macro_rules! say {
    () => {
        emit(format_args!(""))
    };
    ($($arg:tt)*) => {
        emit(format_args!($($arg)*))
    };
}

fn emit(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(err) = writeln!(out, "{line}").and_then(|()| out.flush())
        && err.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// glyph: end-to-end encrypted messaging from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "glyph",
    version,
    about = "glyph: end-to-end encrypted messaging from the command line.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// The server, e.g. https://glyph.example.org (needed by init, restore
    /// and share create; afterwards the profile remembers it).
    #[arg(long, env = "GLYPH_SERVER", global = true)]
    server: Option<String>,
    /// The profile directory (default: ~/.glyph).
    #[arg(long, env = "GLYPH_PROFILE", global = true)]
    profile: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 ok, 1 other failure, 2 bad usage, 3 wrong PIN, no profile or device removed, \
4 server unreachable, 5 server refused, 6 integrity or crypto check failed, 7 a contact's keys changed, \
8 refused: not what the server claims it is.\n\
The PIN is read from GLYPH_PIN when set, else prompted for.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account: shows your 12 recovery words once.
    Init,
    /// Set up this computer for your account from its 12 words (read from
    /// GLYPH_WORDS or stdin): it is linked as one more device, and your
    /// other devices keep working.
    Restore,
    /// This account's devices; `devices remove ID` removes a lost one.
    Devices {
        #[command(subcommand)]
        action: Option<DevicesAction>,
    },
    /// Show your user id and safety code.
    Whoami,
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
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        to: String,
        /// The text (several words are joined with spaces).
        #[arg(required = true)]
        text: Vec<String>,
        /// Disappear this many seconds after sending.
        #[arg(long)]
        expires: Option<u64>,
    },
    /// Fetch new messages and print them; with a name or --group, print
    /// that conversation's history.
    Read {
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: Option<String>,
        /// A group id.
        #[arg(long, conflicts_with = "who")]
        group: Option<String>,
    },
    /// Receive live and print messages as they arrive (Ctrl-C stops).
    Listen,
    /// Groups.
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Send a file (at most 25 MiB), sealed on this device.
    SendFile {
        /// Petname, @handle or user id (or a group id with --group).
        #[arg(allow_hyphen_values = true)]
        to: String,
        /// The file.
        path: PathBuf,
        /// The recipient may view it once; the server then deletes it.
        #[arg(long)]
        view_once: bool,
        /// `to` is a group id.
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
    },
    /// Set a conversation's disappearing-message timer.
    Timer {
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
        /// Seconds, or `off`.
        seconds: String,
    },
    /// One-view share links.
    Share {
        #[command(subcommand)]
        action: ShareAction,
    },
}

#[derive(Debug, Subcommand)]
enum DevicesAction {
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
enum HandleAction {
    /// Set it.
    Set {
        /// 3-32 of a-z 0-9 _ . -, starting with a letter.
        handle: String,
    },
}

#[derive(Debug, Subcommand)]
enum ContactAction {
    /// Add someone by @handle or user id.
    Add {
        /// @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
        /// Your name for them (stays on this device).
        #[arg(long)]
        name: Option<String>,
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
enum GroupAction {
    /// Create a group with these people; prints its id.
    Create {
        /// Petnames, @handles or user ids.
        #[arg(required = true, allow_hyphen_values = true)]
        members: Vec<String>,
    },
    /// Add a member.
    Add {
        /// The group id.
        #[arg(allow_hyphen_values = true)]
        group: String,
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
    },
    /// Remove a member.
    Remove {
        /// The group id.
        #[arg(allow_hyphen_values = true)]
        group: String,
        /// Petname, @handle or user id.
        #[arg(allow_hyphen_values = true)]
        who: String,
    },
    /// Send text to the group.
    Send {
        /// The group id.
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
enum ShareAction {
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

/// Runs the command line; the `glyph` binary's `main` is this one call.
pub fn main_from_args() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("glyph: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("glyph: {err}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The documented exit code of an error.
pub fn exit_code(err: &ClientError) -> u8 {
    match err {
        ClientError::WrongPin
        | ClientError::EmptyPin
        | ClientError::NoProfile(_)
        | ClientError::DeviceRemoved => 3,
        ClientError::Network(_) => 4,
        ClientError::Api { .. }
        | ClientError::BadResponse(_)
        | ClientError::QuotaExceeded { .. } => 5,
        ClientError::Crypto(_)
        | ClientError::Decode(_)
        | ClientError::Integrity
        | ClientError::BadBinding(_) => 6,
        ClientError::KeyChanged(_) => 7,
        ClientError::Refused(_) => 8,
        _ => 1,
    }
}

fn profile_dir(cli: &Cli) -> Result<PathBuf, ClientError> {
    if let Some(dir) = &cli.profile {
        return Ok(dir.clone());
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".glyph"))
        .ok_or(ClientError::Unsupported(
            "no --profile given and HOME is not set",
        ))
}

fn server(cli: &Cli) -> Result<String, ClientError> {
    cli.server.clone().ok_or(ClientError::Unsupported(
        "give the server with --server URL (or GLYPH_SERVER)",
    ))
}

fn read_pin(confirm: bool) -> Result<String, ClientError> {
    if let Ok(pin) = std::env::var("GLYPH_PIN") {
        return Ok(pin);
    }
    let pin = rpassword::prompt_password("PIN or passphrase: ")?;
    if confirm && rpassword::prompt_password("Again: ")? != pin {
        return Err(ClientError::Unsupported("the two entries differ"));
    }
    Ok(pin)
}

async fn devices(cli: &Cli, action: Option<&DevicesAction>) -> Result<(), ClientError> {
    let client = open(cli).await?;
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

async fn open(cli: &Cli) -> Result<Client, ClientError> {
    Client::open(&profile_dir(cli)?, &read_pin(false)?).await
}

/// A time as `YYYY-MM-DD HH:MM` UTC.
fn format_time(unix: i64) -> String {
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

async fn name_of(client: &Client, user_id: &str) -> String {
    if user_id == client.user_id() {
        return "me".into();
    }
    match client.contact(user_id).await {
        Ok(Some(contact)) => contact.display_name(),
        _ => user_id.to_owned(),
    }
}

async fn print_message(client: &Client, message: &Message) {
    let from = name_of(client, &message.sender).await;
    let place = match &message.conversation {
        Conversation::Group(id) => format!(" in group {id}"),
        Conversation::Peer(peer) if message.outgoing => {
            format!(" to {}", name_of(client, peer).await)
        }
        Conversation::Peer(_) => String::new(),
    };
    let timer = if message.expires_at.is_some() {
        " (disappearing)"
    } else {
        ""
    };
    say!(
        "[{}] {} {from}{place}{timer}: {}",
        message.local_id,
        format_time(message.sent_at),
        message.content.summary()
    );
    if let Some(warning) = &message.warning {
        say!("    (!) authentic, but the server lied about it: {warning}");
    }
}

fn progress_bar(total: u64) -> (indicatif::ProgressBar, crate::Progress) {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let shown = bar.clone();
    let report: crate::Progress = Arc::new(move |done, all| {
        shown.set_length(all.max(1));
        shown.set_position(done);
    });
    (bar, report)
}

async fn run(cli: Cli) -> Result<(), ClientError> {
    match &cli.command {
        Command::Init => {
            let profile = profile_dir(&cli)?;
            let pin = read_pin(true)?;
            let (client, words) = Client::create(&profile, &pin, &server(&cli)?).await?;
            say!(
                "Your recovery words (write them down; they are shown only this once):\n\n    {}\n",
                words.phrase()
            );
            say!(
                "user id:     {}\nsafety code: {}",
                client.user_id(),
                client.safety_code()
            );
        }
        Command::Restore => {
            let words = match std::env::var("GLYPH_WORDS") {
                Ok(words) => words,
                Err(_) => {
                    eprint!("The 12 words: ");
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line
                }
            };
            let pin = read_pin(true)?;
            let client = Client::restore(&profile_dir(&cli)?, &pin, &server(&cli)?, &words).await?;
            say!(
                "Restored {} (safety code {}) as device {}.\n\
                 Your other devices keep working; this one receives what is sent from now on.",
                client.user_id(),
                client.safety_code(),
                client.device_id()
            );
        }
        Command::Whoami => {
            let client = open(&cli).await?;
            say!(
                "user id:     {}\nsafety code: {}\ndevice:      {}\nserver:      {}",
                client.user_id(),
                client.safety_code(),
                client.device_id(),
                client.server()
            );
        }
        Command::Handle {
            action: HandleAction::Set { handle },
        } => {
            open(&cli).await?.set_handle(handle).await?;
            say!("Your handle is now @{}.", handle.to_ascii_lowercase());
        }
        Command::Contact { action } => contact(&cli, action).await?,
        Command::Devices { action } => devices(&cli, action.as_ref()).await?,
        Command::Send { to, text, expires } => {
            let client = open(&cli).await?;
            let peer = client.resolve(to).await?;
            let options = crate::SendOptions {
                expires_in: *expires,
                ..Default::default()
            };
            let sent = client
                .send(
                    &Conversation::Peer(peer),
                    Content::Text {
                        body: text.join(" "),
                    },
                    options,
                )
                .await?;
            report_sent(&sent);
        }
        Command::Read { who, group } => {
            let client = open(&cli).await?;
            let new = client.sync().await?;
            let conversation = match (who, group) {
                (Some(who), _) => Some(Conversation::Peer(client.resolve(who).await?)),
                (None, Some(group)) => Some(Conversation::Group(group.clone())),
                (None, None) => None,
            };
            match conversation {
                Some(conversation) => {
                    for message in client.history(&conversation).await? {
                        print_message(&client, &message).await;
                    }
                }
                None if new.is_empty() => say!("No new messages."),
                None => {
                    for message in &new {
                        print_message(&client, message).await;
                    }
                    let refused = new
                        .iter()
                        .filter(|m| matches!(m.content, Content::Refused { .. }))
                        .count();
                    if refused > 0 {
                        return Err(ClientError::Refused(crate::Refusal::Messages(refused)));
                    }
                }
            }
        }
        Command::Listen => {
            let client = open(&cli).await?;
            eprintln!("Listening as {} (Ctrl-C stops).", client.user_id());
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let (sender, mut printed) = tokio::sync::mpsc::unbounded_channel::<Message>();
            let printer = async {
                while let Some(message) = printed.recv().await {
                    print_message(&client, &message).await;
                    let _ = std::io::stdout().flush();
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
            result?;
        }
        Command::Group { action } => group(&cli, action).await?,
        Command::SendFile {
            to,
            path,
            view_once,
            group,
        } => {
            let client = open(&cli).await?;
            let conversation = if *group {
                Conversation::Group(to.clone())
            } else {
                Conversation::Peer(client.resolve(to).await?)
            };
            let (bar, progress) = progress_bar(std::fs::metadata(path)?.len());
            let sent = client
                .send_file(&conversation, path, *view_once, Some(progress))
                .await?;
            bar.finish_and_clear();
            report_sent(&sent);
        }
        Command::GetFile { message, out } => {
            let client = open(&cli).await?;
            let (bar, progress) = progress_bar(0);
            let (descriptor, file) = client.open_media(*message, Some(progress)).await?;
            bar.finish_and_clear();
            let target = out
                .clone()
                .unwrap_or_else(|| PathBuf::from(safe_file_name(&descriptor.name)));
            std::fs::write(&target, &file)?;
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
        }
        Command::Timer { who, seconds } => {
            let client = open(&cli).await?;
            let conversation = Conversation::Peer(client.resolve(who).await?);
            let seconds = if seconds == "off" {
                None
            } else {
                Some(seconds.parse::<u64>().map_err(|_| {
                    ClientError::Unsupported("the timer is a number of seconds, or off")
                })?)
            };
            client.set_timer(&conversation, seconds).await?;
            match seconds {
                Some(secs) => say!("Messages you send to {who} now disappear after {secs} s."),
                None => say!("Messages you send to {who} no longer disappear."),
            }
        }
        Command::Share { action } => share(&cli, action).await?,
    }
    Ok(())
}

fn report_sent(message: &Message) {
    match message.delivery {
        crate::Delivery::Pending => say!(
            "Queued [{}]: the server is unreachable; it goes out with the next read or listen.",
            message.local_id
        ),
        _ => say!("Sent [{}].", message.local_id),
    }
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

async fn contact(cli: &Cli, action: &ContactAction) -> Result<(), ClientError> {
    let client = open(cli).await?;
    match action {
        ContactAction::Add { who, name } => {
            let (contact, check) = client.add_contact(who, name.as_deref()).await?;
            match check {
                crate::KeyCheck::Changed => {
                    say!(
                        "WARNING: the keys of {} changed since you added them. Compare the safety number again.",
                        contact.display_name()
                    );
                    return Err(ClientError::KeyChanged(contact.display_name()));
                }
                _ => say!(
                    "Added {} ({}), safety code {}.",
                    contact.display_name(),
                    contact.user_id,
                    contact.identity()?.fingerprint()
                ),
            }
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
                    say!("{name}  {state}");
                } else {
                    say!("{name}  {}  {state}", contact.user_id);
                }
            }
        }
    }
    Ok(())
}

async fn group(cli: &Cli, action: &GroupAction) -> Result<(), ClientError> {
    let client = open(cli).await?;
    match action {
        GroupAction::Create { members } => {
            let names: Vec<&str> = members.iter().map(String::as_str).collect();
            let group = client.create_group(&names).await?;
            say!("{}", group.group_id);
        }
        GroupAction::Add { group, who } => {
            let roster = client.add_to_group(group, who).await?;
            say!("{} members.", roster.members.len());
        }
        GroupAction::Remove { group, who } => {
            let roster = client.remove_from_group(group, who).await?;
            say!("{} members.", roster.members.len());
        }
        GroupAction::Send { group, text } => {
            let sent = client.send_group_text(group, &text.join(" ")).await?;
            report_sent(&sent);
        }
        GroupAction::List => {
            for group in client.groups().await? {
                let mut names = Vec::new();
                for member in &group.members {
                    names.push(name_of(&client, member).await);
                }
                say!("{}  {}", group.group_id, names.join(", "));
            }
        }
    }
    Ok(())
}

async fn share(cli: &Cli, action: &ShareAction) -> Result<(), ClientError> {
    match action {
        ShareAction::Create {
            text,
            file,
            views,
            ttl,
        } => {
            let secret = match (text, file) {
                (Some(text), _) => text.clone().into_bytes(),
                (None, Some(path)) => std::fs::read(path)?,
                (None, None) => {
                    let mut input = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)?;
                    input
                }
            };
            let server = match &cli.server {
                Some(server) => server.clone(),
                None => open(cli).await?.server().to_owned(),
            };
            let (link, expires_at) = crate::create_share(&server, &secret, *views, *ttl).await?;
            say!("{}", link.to_url());
            eprintln!(
                "Opens {views} time(s), until {} UTC. Anyone with the link can open it.",
                format_time(expires_at)
            );
        }
        ShareAction::Open { link } => {
            let (secret, left) = crate::open_share(link).await?;
            std::io::stdout().write_all(&secret)?;
            if std::io::stdout().is_terminal() {
                say!();
            }
            eprintln!("({left} view(s) left)");
        }
    }
    Ok(())
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
    fn ids_that_begin_with_a_hyphen_are_arguments_not_flags() {
        let id = "-oAbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc";
        for args in [
            vec!["glyph", "read", id],
            vec!["glyph", "send", id, "hi"],
            vec!["glyph", "contact", "add", id],
            vec!["glyph", "group", "send", "-3f", "hi"],
            vec!["glyph", "group", "create", id, id],
            vec!["glyph", "send-file", "--group", "-3f", "x.bin"],
            vec!["glyph", "timer", id, "60"],
        ] {
            assert!(Cli::try_parse_from(&args).is_ok(), "{args:?}");
        }
        // Known flags are still flags.
        let cli = Cli::try_parse_from(["glyph", "read", "--group", "g1"]);
        assert!(
            matches!(
                cli,
                Ok(Cli {
                    command: Command::Read {
                        who: None,
                        group: Some(_)
                    },
                    ..
                })
            ),
            "{cli:?}"
        );
    }

    #[test]
    fn received_file_names_cannot_escape_the_directory() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name(".."), "received-file");
        assert_eq!(safe_file_name("a\\b.txt"), "b.txt");
        assert_eq!(safe_file_name("ok.png"), "ok.png");
    }
}
