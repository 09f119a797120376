#!/bin/sh
# Runs one fuzzer for a while from its seed corpus, as a test: exit 0 when
# nothing crashed. New inputs go to a scratch folder, never to the seeds.
#   run-fuzzer.sh FUZZER SEED_DIR SECONDS
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$1" -max_total_time="$3" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work" "$2"
