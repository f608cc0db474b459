//! The server program for the end-to-end tests: `glyph-server`'s own entry point.

fn main() -> std::process::ExitCode {
    glyph_server::app::main_from_args()
}
