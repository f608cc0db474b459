//! `glyph`: the command line. Everything is in `glyph_client::cli`.

fn main() -> std::process::ExitCode {
    glyph_client::cli::main_from_args()
}
