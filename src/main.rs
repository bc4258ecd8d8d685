//! The `scimshift` binary: parse, run, exit. All logic lives in the library.

fn main() {
    std::process::exit(scimshift::cli::main());
}
