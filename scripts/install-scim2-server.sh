#!/usr/bin/env bash
# Install the independent SCIM server the tests talk to (PyPI scim2-server,
# pinned) into a project-local venv: .venv/scim2-server. Idempotent and quiet.
# Needs only python3 (>= 3.11) and access to PyPI.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv/scim2-server"
VERSION=${SCIM2_SERVER_VERSION:-0.8.3}
PYTHON=${PYTHON:-python3}
if "$VENV/bin/scim2-server" --help >/dev/null 2>&1 \
   && "$VENV/bin/pip" show scim2-server 2>/dev/null | grep -qx "Version: $VERSION"; then
    exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --disable-pip-version-check -q "scim2-server==$VERSION"
"$VENV/bin/scim2-server" --help >/dev/null
echo "scim2-server $VERSION installed in $VENV" >&2
