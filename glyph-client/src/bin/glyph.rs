//! `glyph`: the command line. Everything is in `glyph_client::cli`.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
