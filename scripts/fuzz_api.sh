#!/usr/bin/env bash
# Fuzzes one node's HTTP API against its OpenAPI document (docs/openapi.json) with schemathesis:
# no 5xx, and every status, media type, header and body as documented. Needs a built tamga
# (`swift build`) and PyPI; bounded to a few minutes. Run from anywhere: bash scripts/fuzz_api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check 'schemathesis==4.32.5'
tamga="$(swift build --show-bin-path)/tamga"
work="$(mktemp -d)"
node_pid=""
cleanup() {
    if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

api="http://127.0.0.1:18180"
"$tamga" network init --validators 1 --demo --citizens 10 --out "$work/net" --peer-port 28600 --api-port 18180 >/dev/null
"$tamga" node --home "$work/net/node-0" --log-level warning 2>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 100); do
    curl -fs "$api/v1/status" >/dev/null 2>&1 && break
    sleep 0.2
done
# Some data for the fuzzer to find: a registered property.
"$tamga" tx send --node "$api" --key "$work/net/parties/registrar-1.key" --party registrar-1 --type property.register \
    --body '{"cadastralNumber": "01-001-001-1", "kind": "apartment", "address": "Astana, fuzz street 1", "area": 6000,
             "owners": [{"party": "citizen-1", "share": "1"}], "titleDocumentHash": "'"$(printf title | sha256sum | cut -c1-64)"'"}' >/dev/null

# A fixed seed keeps CI reproducible: a run that passed passes again. By hand, FUZZ_SEED=random
# explores new inputs, and FUZZ_EXAMPLES raises the examples per operation (keep it under ~400
# within the 10-minute bound).
seed=()
if [ "${FUZZ_SEED:-}" != random ]; then seed=(--seed "${FUZZ_SEED:-176150229632671639343041671968709453366}"); fi
if ! timeout 600 python3 -m schemathesis.cli run "$api/v1/openapi.json" --url "$api" --max-examples "${FUZZ_EXAMPLES:-100}" "${seed[@]}" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth; then
    echo "--- the node's log (last 40 lines) ---" >&2
    tail -n 40 "$work/node.log" >&2
    exit 1
fi
