//! `glyph-server`: parse the configuration, open storage, serve.

fn main() -> std::process::ExitCode {
    glyph_server::app::main_from_args()
}
