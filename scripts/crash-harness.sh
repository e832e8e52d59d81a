#!/usr/bin/env bash
# The crash harness (`cista bench crash`): votes cast at a steady rate through a real
# `cista serve` that backs up continuously; SIGKILL at random moments; restore into fresh
# directories; reports the worst lost acknowledged vote (goal ≤ 1 s) and whether restores to a
# chosen past time match a dump taken at that time; round 2 takes the backup target away.
#   scripts/crash-harness.sh                 10 rounds with the release binary (builds it)
#   scripts/crash-harness.sh --rounds 2 --binary target/debug/cista   (CI's short form)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$binary" ]; then
  cargo build --release --locked -p cista
  binary="${CARGO_TARGET_DIR:-target}/release/cista"
fi
if [ ${#args[@]} -eq 0 ]; then
  args=(--rounds 10)
fi
# Short runs need fewer owners (each signs in once, with Argon2id).
case " ${args[*]} " in
  *" --voters "*) ;;
  *) rounds=10
     for ((i = 0; i < ${#args[@]}; i++)); do
       [ "${args[$i]}" = "--rounds" ] && rounds="${args[$((i + 1))]}"
     done
     args+=(--voters $((rounds * 140 + 200))) ;;
esac
exec "$binary" bench crash "${args[@]}"
