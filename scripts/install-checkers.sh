#!/usr/bin/env bash
# Install the independent conformance checkers the tests run against the twin,
# pinned, each into its own project-local venv (their dependencies differ from
# scim2-server's): scim2-tester (RFC 7643/7644 checks, driven by scim2-cli) into
# .venv/scim2-tester, and Microsoft's Graph SDK for Python (msgraph-sdk) into
# .venv/msgraph. Idempotent and quiet. Needs only python3 and access to PyPI.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}

# install VENV CHECK_IMPORT PACKAGE==VERSION...
install() {
    local venv="$ROOT/.venv/$1" check=$2
    shift 2
    if "$venv/bin/python" -c "$check" >/dev/null 2>&1 \
       && [ "$(cat "$venv/.pinned" 2>/dev/null)" = "$*" ]; then
        return 0
    fi
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --disable-pip-version-check -q "$@"
    "$venv/bin/python" -c "$check"
    # Byte-compile once (the environment may set PYTHONDONTWRITEBYTECODE, and
    # msgraph-sdk has thousands of modules to compile on every import otherwise).
    "$venv/bin/python" -m compileall -q -j 0 "$venv/lib" >/dev/null || true
    echo "$*" > "$venv/.pinned"
    echo "$* installed in $venv" >&2
}

install scim2-tester "import scim2_tester, scim2_cli" \
    "scim2-tester==${SCIM2_TESTER_VERSION:-0.5.2}" "scim2-cli==${SCIM2_CLI_VERSION:-0.6.0}"

install msgraph "import msgraph, kiota_serialization_json" \
    "msgraph-sdk==${MSGRAPH_SDK_VERSION:-1.65.0}"
