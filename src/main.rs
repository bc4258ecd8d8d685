//! The `scimshift` binary: parse, run, exit. All logic lives in the library.

/// mimalloc instead of glibc's malloc: a snapshot is millions of small
/// allocations (JSON keys and values), which glibc pads and fragments; with
/// mimalloc `plan` and `snapshot` peak lower at 100,000 users (bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(scimshift::cli::main());
}
