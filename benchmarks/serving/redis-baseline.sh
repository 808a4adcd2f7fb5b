#!/usr/bin/env bash
# Serving benchmark, one run: trains a small model (benchmarks/serving/bench-model.yaml), bulk-loads it into the
# FASTER store behind `recsys-embed serve --resident --inline-io`, starts Debian's redis-server on 127.0.0.1 (installed
# with apt when missing), fills Redis with the service's own 256-byte vectors, then load-tests, in one loadtest run each
# at 1 and 16 callers: the service over unary gRPC, over the LookupStream RPC (one stream per caller), over the
# BatchLookupStream RPC through the client's LookupMultiplexerPool (the callers' lookups on 2 multiplexed streams, one
# HTTP/2 connection each, one per server core; lookups that wait during a round trip are sent together, as
# StackExchange.Redis pipelines the Redis callers on one connection), and Redis, with the
# same request shape (26 features, one value each, answered as 26 x 256 bytes: packed gRPC answers; Redis: one MGET of
# 26 keys). The gRPC requests are compact (features by model position, raw values as one UTF-8 block; the service
# hashes the same bytes), as Redis's are 26 key strings. Then HTTP/JSON, the in-process store on 2 threads and end-to-end update freshness through the embedded
# Kafka broker.
# Usage: benchmarks/serving/redis-baseline.sh [OUT_DIR]      (DURATION=15 CONCURRENCY=16 override)
# Not part of CI: it needs redis-server and a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/recsys-serving-bench}
DURATION=${DURATION:-15}
CONCURRENCY=${CONCURRENCY:-16}
REDIS_PORT=${REDIS_PORT:-6399}
GRPC_PORT=${GRPC_PORT:-8510}
mkdir -p "$OUT"

. benchmarks/serving/bench-model.sh

cleanup() {
  [ -n "${SERVE_PID:-}" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT

start_redis

rm -rf "$OUT/store"
$CLI serve --model "$OUT/model" --config benchmarks/serving/bench-model.yaml --port "$GRPC_PORT" --store "$OUT/store" --memory 1GiB --resident --inline-io \
  --updates-topic updates --bootstrap embedded --checkpoint-seconds 600 > "$OUT/serve.out" 2> "$OUT/serve.err" &
SERVE_PID=$!
for _ in $(seq 600); do grep -q '^bootstrap: ' "$OUT/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^grpc: ' "$OUT/serve.out" || { cat "$OUT/serve.err"; exit 1; }
BOOTSTRAP=$(sed -n 's/^bootstrap: //p' "$OUT/serve.out")
grep 'store: loaded' "$OUT/serve.err"

TARGETS=(--target "grpc://127.0.0.1:$GRPC_PORT" --target "grpc-stream://127.0.0.1:$GRPC_PORT" --target "grpc-mux://127.0.0.1:$GRPC_PORT" --target "redis://127.0.0.1:$REDIS_PORT")
echo "== service (unary gRPC, gRPC stream, multiplexed gRPC stream) vs Redis, 1 caller"
$CLI loadtest "${TARGETS[@]}" --redis-fill-from "grpc://127.0.0.1:$GRPC_PORT" --packed --compact --inline-io --mux-connections 2 \
  --features 26 --cardinality 10000 --concurrency 1 --duration "$DURATION" --json "$OUT/c1.json"
echo "== service (unary gRPC, gRPC stream, multiplexed gRPC stream) vs Redis, $CONCURRENCY callers"
$CLI loadtest "${TARGETS[@]}" --packed --compact --inline-io --mux-connections 2 \
  --features 26 --cardinality 10000 --concurrency "$CONCURRENCY" --duration "$DURATION" --json "$OUT/c$CONCURRENCY.json"
echo "== HTTP/JSON, $CONCURRENCY callers"
$CLI loadtest --target "http://127.0.0.1:$((GRPC_PORT + 1))" --features 26 --cardinality 10000 --concurrency "$CONCURRENCY" --duration "$DURATION"
echo "== freshness (publish to the update topic -> visible in a lookup)"
$CLI loadtest --target "grpc://127.0.0.1:$GRPC_PORT" --duration 1 --warmup 0 --concurrency 1 --freshness 200 --freshness-feature C1 \
  --updates-topic updates --bootstrap "$BOOTSTRAP" --model "$OUT/model" --config benchmarks/serving/bench-model.yaml
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; SERVE_PID=""
echo "== in-process store, 2 threads (resident tier, then FASTER alone)"
$CLI loadtest --target inproc-resident --target inproc --model "$OUT/model" --config benchmarks/serving/bench-model.yaml --memory 1GiB \
  --features 26 --cardinality 10000 --concurrency 2 --duration "$DURATION"
