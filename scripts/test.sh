#!/usr/bin/env bash
# The whole test suite, on a fresh machine with only the Rust toolchain and
# Python 3: installs what the tests need (the independent SCIM server
# scim2-server, pinned, into .venv/), then checks formatting and lints, then
# runs every test. Used by CI (.ci/run) and by people alike.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "toolchain components"
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$c"
    fi
done

step "independent SCIM server (scim2-server, PyPI) into .venv/"
scripts/install-scim2-server.sh

step "independent conformance checkers (scim2-tester, msgraph-sdk; PyPI) into .venv/"
scripts/install-checkers.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --all-targets -- --test-threads "${TEST_THREADS:-2}" 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\nscimshift: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
# Every skipped test by name, with the reason its #[ignore = "..."] gives.
if grep -q '^test .* \.\.\. ignored' "$log"; then
    echo "skipped (not run by default; cargo test -- --ignored runs them):"
    sed -n 's/^test \(.*\) \.\.\. ignored\(, \)\{0,1\}\(.*\)$/  \1: \3/p' "$log" | sed 's/: $/: (no reason given)/'
fi
exit "$status"
