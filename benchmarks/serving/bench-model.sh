# Sourced by the serving benchmark scripts: builds the CLI and, once per OUT directory, trains the benchmark model
# (benchmarks/serving/bench-model.yaml, dim 64: 256-byte rows) into "$OUT/model". Sets CLI.
dotnet build src/RecsysEmbed.Cli -c Release -v q -nologo >/dev/null
CLI="dotnet src/RecsysEmbed.Cli/bin/Release/net10.0/recsys-embed.dll"
if [ ! -f "$OUT/model/LATEST" ]; then
  $CLI datasets synth --schema criteo --rows 200000 --seed 3 --max-cardinality 100000 --no-auc --out "$OUT/train.tsv" >/dev/null
  $CLI train --config benchmarks/serving/bench-model.yaml --train "$OUT/train.tsv" --epochs 1 --checkpoint "$OUT/model" --json > "$OUT/train.json"
fi

# Starts Debian's redis-server on 127.0.0.1:$REDIS_PORT (installed with apt when missing), no persistence.
start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing redis-server (apt)"
    export DEBIAN_FRONTEND=noninteractive
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  fi
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes --logfile "$OUT/redis.log"
  for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
