#!/usr/bin/env bash
# Runs the S3 media test against moto's S3 server (pip install 'moto[server]'),
# a real S3 protocol endpoint on loopback. Builds glyph-server with `s3`.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${MOTO_PORT:-5077}
moto_server -H 127.0.0.1 -p "$port" >/tmp/glyph-moto.log 2>&1 &
moto=$!
trap 'kill $moto' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.2; done
export GLYPH_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
export AWS_ENDPOINT="$GLYPH_TEST_S3_ENDPOINT" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
cargo test -p glyph-server --features s3 --test s3 -- --nocapture
