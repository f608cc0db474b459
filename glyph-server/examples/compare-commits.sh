#!/usr/bin/env bash
# Group commit against one transaction per message, side by side on one
# machine: two release servers on the same backend, one with the default
# batch and one with --max-send-batch 1 (the design before group commit),
# and the load tool run against each in turn, ROUNDS times.
#
#   glyph-server/examples/compare-commits.sh sqlite|postgres LOAD-ARGS...
#   e.g. compare-commits.sh sqlite saturate 50 50 10
#        compare-commits.sh postgres rate 50 1500 10
#        compare-commits.sh sqlite group 100 200
#        compare-commits.sh sqlite wrk 50 50 10   # USERS CONNECTIONS SECONDS, sends.lua
#
# PostgreSQL: a fresh database per server at 127.0.0.1:5432 (trust auth).
# BEFORE=path/to/an/older/glyph-server adds a third server, that build, to
# the rotation (for before/after figures in one run). FRESH=1 starts every
# round on new servers and empty databases (otherwise the faster server's
# database grows faster, and a larger database is slower to insert into).
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=$1
shift
rounds=${ROUNDS:-3}
cargo build --release -q -p glyph-server --bin glyph-server --example load
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
export GLYPH_REGISTER_PER_MINUTE=1000000 GLYPH_AUTH_PER_MINUTE=1000000 \
    GLYPH_SENDS_PER_MINUTE=100000000 RUST_LOG=${RUST_LOG:-warn}
generation=0
databases=()
start() { # start NAME PORT BATCH [BINARY]
    local url="" binary=${4:-target/release/glyph-server} batch=(--max-send-batch "$3")
    [ -n "${4:-}" ] && batch=()
    if [ "$backend" = postgres ]; then
        local db="glyph_bench_$1_$$_$generation"
        psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" >/dev/null
        databases+=("$db")
        url="postgres://postgres@127.0.0.1:5432/$db"
    fi
    rm -rf "$work/$1" "$work/$1.users"
    env ${url:+GLYPH_DATABASE_URL="$url"} "$binary" --listen "127.0.0.1:$2" \
        --data-dir "$work/$1" "${batch[@]}" >"$work/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$2/healthz" >/dev/null && return
        sleep 0.1
    done
    echo "server $1 did not start" >&2
    cat "$work/$1.log" >&2
    exit 1
}
stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}
start_all() {
    generation=$((generation + 1))
    start grouped 18181 128
    start single 18182 1
    servers=("grouped 18181" "single 18182")
    if [ -n "${BEFORE:-}" ]; then
        start before 18183 0 "$BEFORE"
        servers+=("before 18183")
    fi
}
start_all
load_kind=$1
shift
for round in $(seq 1 "$rounds"); do
    if [ -n "${FRESH:-}" ] && [ "$round" -gt 1 ]; then
        stop_all
        start_all
    fi
    for server in "${servers[@]}"; do
        set -- $server "$@"
        name=$1 port=$2
        shift 2
        printf 'round %s, %-8s ' "$round" "$name:"
        if [ "$load_kind" = wrk ]; then
            [ -s "$work/$name.users" ] ||
                target/release/examples/load users "http://127.0.0.1:$port" "$1" >"$work/$name.users"
            wrk -t2 -c"$2" -d"$3s" -s glyph-server/examples/sends.lua \
                "http://127.0.0.1:$port" -- "$work/$name.users" | tail -1
        else
            target/release/examples/load "$load_kind" "http://127.0.0.1:$port" "$@"
        fi
    done
done
if [ "$backend" = postgres ]; then
    stop_all
    for db in "${databases[@]}"; do
        psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null || true
    done
fi
