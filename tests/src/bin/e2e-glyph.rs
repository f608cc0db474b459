//! The command line for the end-to-end tests: `glyph`'s own entry point.

fn main() -> std::process::ExitCode {
    glyph_client::cli::main_from_args()
}
