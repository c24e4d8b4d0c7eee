#!/usr/bin/env bash
# Brings a 3-node, 3-region Docker Swarm lab up on this machine (network namespaces, one dockerd each, a registry),
# or tears one down by the PIDs and paths it recorded. Root only. See docs/swarm.md.
#   scripts/swarm-lab.sh up          prints the lab directory, node addresses and the PIER_* variables to use
#   scripts/swarm-lab.sh down DIR    kills the lab's processes, unmounts, removes namespaces, links and DIR
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bin/run-ts.mjs test/swarm/lab-cli.ts "$@"
