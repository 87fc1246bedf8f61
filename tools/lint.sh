#!/usr/bin/env bash
# `make lint` and the Cloud Build lint step: ruff, pyright (strict on shared/), and checkov
# over infra/ (every skip is inline next to its resource, with the reason).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/pyright
tools/checkov/.venv/bin/checkov --directory infra --framework terraform --skip-download --quiet --compact
