#!/usr/bin/env bash
# Times the whole `scimshift plan` command on synthetic snapshots (see bench/PLAN.md).
# Usage: [OUTPUT=json] bench/plan_cmd.sh [BIN] [DIR] [SIZES...]; the snapshots are made by
# `cargo run --release --example plan_bench_snapshot -- N DIR/snap-N.json` when missing.
set -euo pipefail
bin=${1:-target/release/scimshift}
dir=${2:-/tmp/scimshift-bench}
shift 2 || true
sizes=${*:-10000 50000 100000}
mkdir -p "$dir"
printf '%-7s %-6s %-8s %-8s %-8s %-9s %-10s %s\n' users exit wall_s user_s sys_s maxrss_MB us_cpu/user load1
for n in $sizes; do
  snap=$dir/snap-$n.json
  [ -f "$snap" ] || cargo run -q --release --example plan_bench_snapshot -- "$n" "$snap" >/dev/null
  load=$(cut -d' ' -f1 /proc/loadavg)
  set +e
  /usr/bin/time -f '%e %U %S %M' -o "$dir/time.txt" "$bin" --output "${OUTPUT:-text}" plan --snapshot "$snap" \
    --pilot-group "Team 0" --out "$dir/plan-$n.json" >/dev/null 2>"$dir/stderr.txt"
  rc=$?
  set -e
  read -r wall user sys rss < <(tail -n 1 "$dir/time.txt")
  awk -v n="$n" -v rc="$rc" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v l="$load" \
    'BEGIN { printf "%-7d %-6d %-8.2f %-8.2f %-8.2f %-9.1f %-10.1f %s\n", n, rc, w, u, s, r/1024, (u+s)*1e6/n, l }'
done
