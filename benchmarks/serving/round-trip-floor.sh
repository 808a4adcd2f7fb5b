#!/usr/bin/env bash
# The 1-caller round-trip floor of this machine, next to the service and Redis, in one run. One caller keeps one
# request in flight, so calls/s is 1 / round trip. Measured back to back, each for DURATION seconds:
#   1. the service (`serve --resident --inline-io`) over the gRPC stream and the multiplexed stream, and Redis MGET of
#      26 x 256-byte values through StackExchange.Redis: one `loadtest --concurrency 1` run, as redis-baseline.sh;
#   2. the same MGET through redis-benchmark -c 1 (Redis's own C client: no managed client in the way);
#   3. a gRPC echo with no work behind it (Grpc.AspNetCore on Kestrel with inline scheduling, Grpc.Net.Client, inline
#      socket completions on both sides), stream and unary, with the service's message sizes;
#   4. a raw blocking TCP ping-pong between two .NET processes with the same sizes (no HTTP/2, no gRPC).
# The last lines give each as a ratio to StackExchange.Redis's calls/s from step 1.
# Usage: benchmarks/serving/round-trip-floor.sh [OUT_DIR]   (DURATION=10 REQUEST_BYTES=230 REPLY_BYTES=6700 override)
# Not part of CI: it needs redis-server and a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/recsys-serving-bench}
DURATION=${DURATION:-10}
REDIS_PORT=${REDIS_PORT:-6399}
GRPC_PORT=${GRPC_PORT:-8510}
FLOOR_PORT=${FLOOR_PORT:-8530}
# A compact request of 26 one-value features ("v0".."v9999") is about 230 bytes of protobuf; the packed answer is 26 x 256 bytes plus dims.
REQUEST_BYTES=${REQUEST_BYTES:-230}
REPLY_BYTES=${REPLY_BYTES:-6700}
mkdir -p "$OUT"

. benchmarks/serving/bench-model.sh
dotnet build benchmarks/RecsysEmbed.RoundTripFloor -c Release -v q -nologo >/dev/null
FLOOR="dotnet benchmarks/RecsysEmbed.RoundTripFloor/bin/Release/net10.0/RecsysEmbed.RoundTripFloor.dll"

cleanup() {
  for pid in ${SERVE_PID:-} ${FLOOR_PID:-}; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
start_redis

wait_for() { for _ in $(seq 600); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; cat "$2"; return 1; }

echo "== 1. service and Redis (StackExchange.Redis), 1 caller"
rm -rf "$OUT/store"
$CLI serve --model "$OUT/model" --config benchmarks/serving/bench-model.yaml --port "$GRPC_PORT" --store "$OUT/store" --memory 1GiB \
  --resident --inline-io > "$OUT/serve.out" 2> "$OUT/serve.err" &
SERVE_PID=$!
wait_for '^grpc: ' "$OUT/serve.out"
$CLI loadtest --target "grpc-stream://127.0.0.1:$GRPC_PORT" --target "grpc-mux://127.0.0.1:$GRPC_PORT" --target "redis://127.0.0.1:$REDIS_PORT" \
  --redis-fill-from "grpc://127.0.0.1:$GRPC_PORT" --packed --compact --inline-io --mux-connections 2 \
  --features 26 --cardinality 10000 --concurrency 1 --duration "$DURATION" | tee "$OUT/floor-service.txt" | grep -E 'calls/s'
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; SERVE_PID=""

echo "== 2. redis-benchmark -c 1, MGET of 26 of the same keys"
mapfile -t KEYS < <(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern "emb:*" | head -26)
REQUESTS=$((DURATION * 15000))
redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 1 -n "$REQUESTS" --csv MGET "${KEYS[@]}" | tail -1 |
  awk -F'","' '{ printf "redis-benchmark: %.0f calls/s, p50 %.1f us, p99 %.1f us\n", $2, $5 * 1000, $7 * 1000 }' | tee "$OUT/floor-redis-benchmark.txt"

echo "== 3. gRPC echo (no work), $REQUEST_BYTES-byte request, $REPLY_BYTES-byte reply"
$FLOOR grpc-server "$FLOOR_PORT" "$REPLY_BYTES" > "$OUT/floor-grpc.out" 2>&1 &
FLOOR_PID=$!
wait_for listening "$OUT/floor-grpc.out"
for mode in stream unary; do $FLOOR grpc-client "$FLOOR_PORT" "$REQUEST_BYTES" "$DURATION" "$mode"; done | tee "$OUT/floor-grpc.txt"
kill -TERM "$FLOOR_PID"; wait "$FLOOR_PID" || true; FLOOR_PID=""

echo "== 4. blocking TCP ping-pong, same sizes"
$FLOOR tcp-server "$((FLOOR_PORT + 1))" "$REPLY_BYTES" > "$OUT/floor-tcp.out" 2>&1 &
FLOOR_PID=$!
wait_for listening "$OUT/floor-tcp.out"
$FLOOR tcp-client "$((FLOOR_PORT + 1))" "$REQUEST_BYTES" "$REPLY_BYTES" "$DURATION" | tee "$OUT/floor-tcp.txt"
wait "$FLOOR_PID" || true; FLOOR_PID=""

echo "== calls/s as a ratio to StackExchange.Redis (1 caller)"
REDIS_CALLS=$(grep -E '^redis ' "$OUT/floor-service.txt" | head -1 | sed -E 's/.*: ([0-9,]+) calls\/s.*/\1/' | tr -d ,)
cat "$OUT/floor-service.txt" "$OUT/floor-redis-benchmark.txt" "$OUT/floor-grpc.txt" "$OUT/floor-tcp.txt" | grep -E 'calls/s' |
  sed -E 's/^(.*): ([0-9,]+) calls\/s.*/\1|\2/' | tr -d , |
  awk -F'|' -v base="$REDIS_CALLS" '{ printf "%-60s %8d calls/s  %5.2fx\n", $1, $2, $2 / base }'
