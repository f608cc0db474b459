//! `glyph-server`: not yet serving. The server issue turns this into the
//! community server (`cargo run -p glyph-server`, SQLite by default).

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("glyph-server: the server is not built yet (see the open server issue)");
    ExitCode::from(2)
}
