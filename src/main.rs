//! The `scimshift` binary: parse, run, exit. All logic lives in the library.

fn main() {
    std::process::exit(scimshift::cmd::main());
}
