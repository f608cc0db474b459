//! The `glyph` command line, built on the library. Every command takes
//! `--server` and `--profile` (or `GLYPH_SERVER`, `GLYPH_PROFILE`); the PIN
//! is asked for at the terminal (nothing is echoed), or read from
//! `GLYPH_PIN` for scripts. People and groups are named by petname,
//! @handle, id, or the first characters of an id (as short ids show them);
//! ids may begin with '-', so those arguments accept a leading hyphen.
//!
//! Exit codes (`EXIT_CODES`, also in `glyph --help` and docs/client.md):
//! 0 success; 1 any other failure (a local file); 2 bad usage: arguments,
//! a malformed value, an empty message, no server given, a person, group or
//! message that is not there; 3 the profile: wrong PIN, none there, one
//! there already, or this device was removed from the account; 4 the
//! server is unreachable (a message is then queued); 5 the server refused;
//! 6 a cryptographic or integrity check failed; 7 a contact's keys changed;
//! 8 refused: what the server presented is not what it claims.

mod args;
mod display;
mod input;
mod messages;
mod people;
mod shares;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
use args::Command;

use crate::{Client, ClientError};

const EXIT_CODES: &str = "Exit codes: 0 ok; 1 other failure (a local file); \
2 bad usage (arguments, a malformed value, an empty message, no server, nothing by that name); \
3 the profile (wrong PIN, none there, one there already, device removed); \
4 server unreachable (a send is queued); 5 server refused; \
6 integrity or crypto check failed; 7 a contact's keys changed; \
8 refused: not what the server claims it is.\n\
The PIN is read from GLYPH_PIN when set, else asked for (it is not shown as you type).";

/// Runs the command line; the `glyph` binary's `main` is this one call.
pub fn main_from_args() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are successes; usage errors are 2.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
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
        ClientError::Invalid(_)
        | ClientError::Unknown(_)
        | ClientError::UnknownMessage(_)
        | ClientError::Unsupported(_)
        | ClientError::EmptyPin
        | ClientError::Mnemonic(_) => 2,
        ClientError::WrongPin
        | ClientError::NoProfile(_)
        | ClientError::ProfileExists(_)
        | ClientError::DeviceRemoved => 3,
        ClientError::Network(_) => 4,
        ClientError::Api { .. }
        | ClientError::BadResponse(_)
        | ClientError::QuotaExceeded { .. }
        | ClientError::FileTooLarge { .. }
        | ClientError::AlreadyViewed => 5,
        ClientError::Crypto(_)
        | ClientError::Decode(_)
        | ClientError::Integrity
        | ClientError::BadBinding(_) => 6,
        ClientError::KeyChanged(_) => 7,
        ClientError::Refused(_) => 8,
        _ => 1,
    }
}

async fn open(cli: &Cli) -> Result<Client, ClientError> {
    let profile = input::profile_dir(cli)?;
    if !crate::vault_path(&profile).exists() {
        return Err(ClientError::NoProfile(profile.display().to_string()));
    }
    Client::open(&profile, &input::read_pin(false)?).await
}

async fn run(cli: Cli) -> Result<(), ClientError> {
    let client = match &cli.command {
        Command::Init => return people::init(&cli).await,
        Command::Restore => return people::restore(&cli).await,
        Command::Share { action } => return shares::share(&cli, action).await,
        _ => open(&cli).await?,
    };
    let done = run_on_profile(&cli, &client).await;
    // What was sent is marked sent in the background: let that finish
    // before the process ends.
    client.settle().await;
    done
}

/// Runs a command that works on the open profile.
async fn run_on_profile(cli: &Cli, client: &Client) -> Result<(), ClientError> {
    match &cli.command {
        // (Run by `run` without an open profile.)
        Command::Init | Command::Restore | Command::Share { .. } => Ok(()),
        Command::Whoami => people::whoami(client).await,
        Command::Devices { action } => people::devices(client, action.as_ref()).await,
        Command::Handle {
            action: args::HandleAction::Set { handle },
        } => people::handle(client, handle).await,
        Command::Contact { action } => people::contact(client, action).await,
        Command::Group { action } => people::group(client, action).await,
        Command::Send { to, text, expires } => {
            messages::send(client, to, text, expires.as_deref()).await
        }
        Command::Read { who, group } => {
            messages::read(client, who.as_deref(), group.as_deref()).await
        }
        Command::Listen => messages::listen(client).await,
        Command::React {
            message,
            emoji,
            remove,
        } => {
            let emoji = if *remove {
                ""
            } else {
                emoji.as_deref().unwrap_or_default()
            };
            messages::react(client, *message, emoji).await
        }
        Command::Edit { message, text } => messages::edit(client, *message, text).await,
        Command::Delete { message } => messages::delete(client, *message).await,
        Command::Receipts { state } => messages::receipts(client, *state).await,
        Command::SendFile {
            to,
            path,
            view_once,
            group,
        } => messages::send_file(client, to, path, *view_once, *group).await,
        Command::GetFile {
            message,
            out,
            force,
        } => messages::get_file(client, *message, out.as_deref(), *force).await,
        Command::Timer { who, value, group } => messages::timer(client, who, value, *group).await,
    }
}

#[cfg(test)]
mod tests {
    use super::args::Command;
    use super::*;

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
            vec!["glyph", "read", "--group", "-3f"],
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
    fn every_error_has_its_documented_exit_code() {
        let cases = [
            (ClientError::Invalid("x".into()), 2),
            (ClientError::Unknown("x".into()), 2),
            (ClientError::EmptyPin, 2),
            (ClientError::WrongPin, 3),
            (ClientError::ProfileExists("p".into()), 3),
            (ClientError::DeviceRemoved, 3),
            (ClientError::Network("x".into()), 4),
            (ClientError::Integrity, 6),
            (ClientError::KeyChanged("x".into()), 7),
            (ClientError::Refused(crate::Refusal::NotMine), 8),
            (
                ClientError::LocalFile {
                    path: "f".into(),
                    reason: "x".into(),
                },
                1,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(exit_code(&err), code, "{err}");
        }
    }
}
