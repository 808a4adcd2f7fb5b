#!/usr/bin/env bash
# The test command of README.md (and of CI, through .ci/run): installs what the tests need (idempotent; quick
# when everything is there), then runs every test project of the solution.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh </dev/null
dotnet test RecsysEmbed.sln -c Release "$@"
