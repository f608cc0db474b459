//! What the command line reads from people: the profile and server, the
//! PIN, the words, durations and texts, each checked with a message that
//! names the problem and the fix (bad input is exit code 2).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use super::args::Cli;
use crate::ClientError;

/// The shortest PIN accepted for a new profile.
pub(super) const MIN_PIN_CHARS: usize = 4;
/// The longest disappearing-message timer (the server keeps nothing longer).
const MAX_TIMER_SECS: u64 = 365 * 86_400;

pub(super) fn profile_dir(cli: &Cli) -> Result<PathBuf, ClientError> {
    if let Some(dir) = &cli.profile {
        return Ok(dir.clone());
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".glyph"))
        .ok_or_else(|| {
            ClientError::Invalid(
                "no --profile given and HOME is not set: give --profile DIR".into(),
            )
        })
}

/// The server URL given with --server or GLYPH_SERVER, checked.
pub(super) fn server(cli: &Cli) -> Result<String, ClientError> {
    let server = cli.server.clone().ok_or_else(|| {
        ClientError::Invalid(
            "no server: give it with --server URL or GLYPH_SERVER, e.g. https://glyph.example.org"
                .into(),
        )
    })?;
    check_server(&server)?;
    Ok(server)
}

pub(super) fn check_server(server: &str) -> Result<(), ClientError> {
    let ok = reqwest::Url::parse(server)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(ClientError::Invalid(format!(
            "the server must be a URL like https://glyph.example.org (got '{server}')"
        )))
    }
}

/// The PIN: GLYPH_PIN, else asked at the terminal (twice for a new
/// profile, which also needs at least MIN_PIN_CHARS characters).
pub(super) fn read_pin(new_profile: bool) -> Result<String, ClientError> {
    let pin = match std::env::var("GLYPH_PIN") {
        Ok(pin) => pin,
        Err(_) => {
            if !std::io::stdin().is_terminal() {
                return Err(ClientError::Invalid(
                    "no PIN: set GLYPH_PIN, or run glyph in a terminal to be asked".into(),
                ));
            }
            let pin = rpassword::prompt_password("PIN or passphrase: ")?;
            if new_profile && rpassword::prompt_password("Again: ")? != pin {
                return Err(ClientError::Invalid(
                    "the two PINs differ; nothing was created".into(),
                ));
            }
            pin
        }
    };
    if new_profile && pin.chars().count() < MIN_PIN_CHARS {
        return Err(ClientError::Invalid(format!(
            "a PIN needs at least {MIN_PIN_CHARS} characters (it protects the keys on this device)"
        )));
    }
    Ok(pin)
}

/// The 12 words: GLYPH_WORDS, else a line from standard input.
pub(super) fn read_words() -> Result<String, ClientError> {
    if let Ok(words) = std::env::var("GLYPH_WORDS") {
        return Ok(words);
    }
    if std::io::stdin().is_terminal() {
        eprint!("The 12 words: ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line)
}

/// A message's text: the words joined, refused when there is nothing.
pub(super) fn text(words: &[String]) -> Result<String, ClientError> {
    let text = words.join(" ");
    if text.trim().is_empty() {
        return Err(ClientError::Invalid(
            "the message is empty; nothing was sent".into(),
        ));
    }
    Ok(text)
}

/// A duration for timers: `30s`, `10m`, `2h`, `7d`, `1w` or seconds, from
/// 1 s to 365 days; `off` is `None`.
pub(super) fn duration(value: &str) -> Result<Option<u64>, ClientError> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || {
        ClientError::Invalid(format!(
            "'{value}' is not a duration: use 30s, 10m, 2h, 7d, 1w, a number of seconds, or off"
        ))
    };
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let number: u64 = number.parse().map_err(|_| bad())?;
    let secs = number.checked_mul(multiplier).ok_or_else(bad)?;
    if secs == 0 || secs > MAX_TIMER_SECS {
        return Err(ClientError::Invalid(format!(
            "a timer is between 1 second and 365 days (got '{value}')"
        )));
    }
    Ok(Some(secs))
}

/// A duration for people: `3600 s` as `1h`.
pub(super) fn human_duration(secs: u64) -> String {
    for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_have_units_and_bounds() {
        assert_eq!(duration("30s").unwrap(), Some(30));
        assert_eq!(duration("90").unwrap(), Some(90));
        assert_eq!(duration("10m").unwrap(), Some(600));
        assert_eq!(duration("2h").unwrap(), Some(7200));
        assert_eq!(duration("7d").unwrap(), Some(604_800));
        assert_eq!(duration("1w").unwrap(), Some(604_800));
        assert_eq!(duration("off").unwrap(), None);
        for bad in [
            "0",
            "0s",
            "soon",
            "-5",
            "5y",
            "366d",
            "1.5h",
            "",
            "99999999999999999999",
        ] {
            assert!(
                matches!(duration(bad), Err(ClientError::Invalid(_))),
                "{bad}"
            );
        }
        assert_eq!(human_duration(3600), "1h");
        assert_eq!(human_duration(90), "90s");
        assert_eq!(human_duration(604_800), "1w");
    }

    #[test]
    fn servers_must_be_http_urls() {
        assert!(check_server("https://glyph.example.org").is_ok());
        assert!(check_server("http://127.0.0.1:8080").is_ok());
        for bad in ["notaurl", "ftp://x.org", "https://", "glyph.example.org"] {
            assert!(
                matches!(check_server(bad), Err(ClientError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_texts_are_refused() {
        assert!(text(&["  ".into()]).is_err());
        assert_eq!(text(&["hi".into(), "there".into()]).unwrap(), "hi there");
    }
}
