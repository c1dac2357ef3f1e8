#!/usr/bin/env bash
# Measures one node's read API with wrk (Debian package): the public encumbrance check, and
# passport reads with a session. Starts its own single-validator network in a temporary folder.
# Usage: bash scripts/bench_api.sh [seconds]   (builds tamga in release first)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product tamga >/dev/null
tamga="$(swift build -c release --show-bin-path)/tamga"
peer_port=28700 api_port=18280
# wrk sends everything from one address: lift the per-address read budget for the measurement.
rate_limits='{"readsPerSecond": 10000000, "authPerSecond": 1000}'
# Starts the node, with one registered property, and stops it on exit.
source scripts/one_node.sh

# A session of a party, opened by signing a challenge with its key.
session() {
python3 - "$api" "$work/net/parties/$1.key" "$1" <<'PY'
import json, sys, urllib.request
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
api, key_path, party = sys.argv[1], sys.argv[2], sys.argv[3]
key_file = json.load(open(key_path))
key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key_file["privateKey"]))
post = lambda path, body: json.load(urllib.request.urlopen(urllib.request.Request(
    api + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})))
challenge = post("/v1/auth/challenge", {})
print(post("/v1/auth/session", {"party": party, "keyId": key_file["keyId"], "challenge": challenge["challenge"],
                                 "signature": key.sign(challenge["signText"].encode()).hex()})["token"])
PY
}
owner="$(session citizen-1)"
bank="$(session bank-1)"

echo "== encumbrance checks (public), ${seconds} s"
wrk -t2 -c64 -d"${seconds}s" --latency "$api/v1/properties/01-001-001-1/encumbrances" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx"
echo "== passport reads with the owner's session, ${seconds} s"
wrk -t2 -c64 -d"${seconds}s" --latency -H "Authorization: Bearer $owner" "$api/v1/properties/01-001-001-1" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx"
echo "== passport reads with a bank's session (each read logged for the owner), ${seconds} s"
wrk -t2 -c64 -d"${seconds}s" --latency -H "Authorization: Bearer $bank" "$api/v1/properties/01-001-001-1" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx"
