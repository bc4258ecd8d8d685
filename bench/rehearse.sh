#!/usr/bin/env bash
# Times `scimshift rehearse` on synthetic tenants (figures in bench/REHEARSE.md).
# For each size N: a twin (`twin serve --seed synthetic:users=N,groups=N/100`, every
# group assigned to the gallery app, the target empty) is snapshotted and planned, the
# twin is stopped, and the plan is rehearsed on a twin rebuilt from the snapshot alone:
# N creates by the custom job's first cycle, N/100 group pushes with their members,
# then verify. Wall time and peak RSS of the rehearse process are measured.
# Usage: bench/rehearse.sh [BIN] [DIR] [SIZES...]   (defaults: target/release/scimshift,
# a temp dir, 1000 10000 50000). Needs /usr/bin/time.
set -euo pipefail
bin=${1:-target/release/scimshift}
dir=${2:-$(mktemp -d)}
shift 2 || true
sizes=${*:-1000 10000 50000}
mkdir -p "$dir"
printf '%-7s %-5s %-8s %-8s %-8s %-9s %-12s %-11s %s\n' users exit wall_s user_s sys_s maxrss_MB ms_per_user agreements load1
for n in $sizes; do
  g=$(( n / 100 > 0 ? n / 100 : 1 ))
  "$bin" twin serve --listen 127.0.0.1:0 --seed "synthetic:users=$n,groups=$g" >"$dir/ready.txt" 2>"$dir/twin.err" &
  twin=$!
  for _ in $(seq 1 600); do [ -s "$dir/ready.txt" ] && break; sleep 0.2; done
  [ -s "$dir/ready.txt" ] || { echo "the twin did not start within 120 s" >&2; kill "$twin"; exit 1; }
  field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$dir/ready.txt" "$1"; }
  export AZURE_TENANT_ID=$(field tenant_id) AZURE_CLIENT_ID=$(field client_id) \
    AZURE_CLIENT_SECRET=$(field client_secret) SCIMSHIFT_GRAPH_URL=$(field graph_url) \
    SCIMSHIFT_AUTHORITY_URL=$(field authority_url) SCIM_TOKEN=$(field scim_token)
  scim=$(field scim_url)
  "$bin" snapshot --app Coda --scim-url "$scim" --out "$dir/snap-$n.json" 2>"$dir/snapshot.err" >/dev/null
  set +e
  "$bin" plan --snapshot "$dir/snap-$n.json" --profile coda --out "$dir/plan-$n.json" >/dev/null 2>"$dir/plan.err"
  set -e
  kill "$twin"; wait "$twin" 2>/dev/null || true
  unset AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET SCIMSHIFT_GRAPH_URL SCIMSHIFT_AUTHORITY_URL SCIM_TOKEN
  load=$(cut -d' ' -f1 /proc/loadavg)
  set +e
  /usr/bin/time -f '%e %U %S %M' -o "$dir/time.txt" "$bin" --output json rehearse "$dir/plan-$n.json" \
    --snapshot "$dir/snap-$n.json" >"$dir/rehearsal-$n.json" 2>"$dir/rehearse.err"
  rc=$?
  set -e
  agree=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{r['agreements']}/{len(r['rows'])}\")" "$dir/rehearsal-$n.json" 2>/dev/null || echo "-")
  read -r wall user sys rss < <(tail -n 1 "$dir/time.txt")
  awk -v n="$n" -v rc="$rc" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v a="$agree" -v l="$load" \
    'BEGIN { printf "%-7d %-5d %-8.2f %-8.2f %-8.2f %-9.1f %-12.3f %-11s %s\n", n, rc, w, u, s, r/1024, w*1000/n, a, l }'
done
