//! One-view share links from the command line.

use std::io::{IsTerminal, Write};

use super::args::{Cli, ShareAction};
use super::display::{format_time, say};
use super::input;
use crate::ClientError;

pub(super) async fn share(cli: &Cli, action: &ShareAction) -> Result<(), ClientError> {
    match action {
        ShareAction::Create {
            text,
            file,
            views,
            ttl,
        } => {
            let secret = match (text, file) {
                (Some(text), _) => text.clone().into_bytes(),
                (None, Some(path)) => {
                    std::fs::read(path).map_err(|e| ClientError::local_file(path, &e))?
                }
                (None, None) => {
                    let mut input = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)?;
                    input
                }
            };
            if secret.is_empty() {
                return Err(ClientError::Invalid(
                    "the secret is empty; nothing was shared".into(),
                ));
            }
            let server = match &cli.server {
                Some(_) => input::server(cli)?,
                None => super::open(cli).await?.server().to_owned(),
            };
            let (link, expires_at) = crate::create_share(&server, &secret, *views, *ttl).await?;
            say!("{}", link.to_url());
            eprintln!(
                "Opens {views} time(s), until {} UTC. Anyone with the link can open it.",
                format_time(expires_at)
            );
        }
        ShareAction::Open { link } => {
            // A link cut short is a usage problem, not a failed check.
            glyph_crypto::ShareLink::parse(link).map_err(|err| {
                ClientError::Invalid(format!(
                    "not a whole share link ({err}): copy all of it, including #key="
                ))
            })?;
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
