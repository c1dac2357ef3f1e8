# Sourced by the API scripts: starts a single-validator demo network in a temporary folder with
# one registered property (01-001-001-1, owned by citizen-1), and stops it on exit.
# Expects: tamga (the executable), peer_port, api_port; optionally rate_limits. Sets: work, api, node_pid.
work="$(mktemp -d)"
node_pid=""
cleanup() {
    if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

api="http://127.0.0.1:$api_port"
"$tamga" network init --validators 1 --demo --citizens 10 --out "$work/net" --peer-port "$peer_port" --api-port "$api_port" >/dev/null
# A benchmark from one address sets `rate_limits` (JSON, docs/operations.md) so that it measures
# answers rather than the per-address budgets.
if [ -n "${rate_limits:-}" ]; then
    python3 - "$work/net/node-0/config.json" "$rate_limits" <<'PY'
import json, sys
path, limits = sys.argv[1], json.loads(sys.argv[2])
config = json.load(open(path))
config["apiRateLimits"] = {**{"authPerSecond": 5, "submissionsPerSecond": 2000, "submissionsPerPartyPerSecond": 50,
                              "expensiveReadsPerSecond": 20, "readsPerSecond": 500, "burstSeconds": 4}, **limits}
json.dump(config, open(path, "w"), indent=2)
PY
fi
"$tamga" node --home "$work/net/node-0" --log-level warning 2>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 100); do
    curl -fs "$api/v1/status" >/dev/null 2>&1 && break
    sleep 0.2
done
"$tamga" tx send --node "$api" --key "$work/net/parties/registrar-1.key" --party registrar-1 --type property.register \
    --body '{"cadastralNumber": "01-001-001-1", "kind": "apartment", "address": "Astana, demo street 1", "area": 6000,
             "owners": [{"party": "citizen-1", "share": "1"}], "titleDocumentHash": "'"$(printf title | sha256sum | cut -c1-64)"'"}' >/dev/null
