#!/usr/bin/env bash
# Every test: the Swift suites, the portal's proof verifier (Node), the portal in a browser
# (headless Chromium and selenium), and the API against its OpenAPI document (schemathesis).
# .ci/run installs what these need; on a machine of your own, see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --build-tests
swift test
node Tests/portal/proof_test.mjs
python3 Tests/portal/browser_test.py .build/debug/tamga
bash scripts/fuzz_api.sh
