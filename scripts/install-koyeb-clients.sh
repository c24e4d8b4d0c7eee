#!/usr/bin/env bash
# Installs Koyeb's own clients (the `koyeb` CLI and the Python SDK `koyeb-sdk`), pinned and cached outside the
# work tree, so test/compat can prove that Pier's API works with them. Idempotent: a present install is reused.
#
# Usage: scripts/install-koyeb-clients.sh [--sdk-only | --cli-only]
# Env:   PIER_CACHE_DIR   cache root (default $HOME/.cache/pier)
#        KOYEB_CLI_BIN    an already installed `koyeb` binary to use instead of building one
# Prints `KOYEB_CLI=<path>` and `KOYEB_SDK_PYTHON=<path>` lines; exits non-zero naming each client that failed.
set -euo pipefail

# koyeb-cli's go.mod says `module github.com/koyeb/koyeb-cli` (no /vN suffix) while its release tags are v3+, so those
# tags are not valid Go module versions: `@latest` resolves to the newest commit's pseudo-version, which the install
# records in the cache directory's name. Set KOYEB_CLI_VERSION to that pseudo-version to pin it exactly.
# On the build machines the Go module proxy answers 403 for github.com/koyeb/koyeb-cli (checked 2026-11-27), so the
# CLI is built from the source kept in ../shared/vendor/koyeb-cli (../shared/tools/build-koyeb-cli.sh) when that
# folder is beside the clone; an outside clone without it tries the proxy, and test/compat/koyeb-cli.slow skips,
# naming the reason, when neither works.
KOYEB_CLI_VERSION="${KOYEB_CLI_VERSION:-latest}"
KOYEB_SDK_VERSION="${KOYEB_SDK_VERSION:-1.5.5}"
CACHE_ROOT="${PIER_CACHE_DIR:-$HOME/.cache/pier}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$CACHE_ROOT"

want_cli=1
want_sdk=1
case "${1:-}" in
  --sdk-only) want_cli=0 ;;
  --cli-only) want_sdk=0 ;;
  "") ;;
  *) echo "usage: $0 [--sdk-only | --cli-only]" >&2; exit 2 ;;
esac

failed=()

install_cli() {
  if [[ -n "${KOYEB_CLI_BIN:-}" ]]; then
    if [[ -x "$KOYEB_CLI_BIN" ]]; then echo "KOYEB_CLI=$KOYEB_CLI_BIN"; return 0; fi
    echo "error: KOYEB_CLI_BIN=$KOYEB_CLI_BIN is not an executable file" >&2
    return 1
  fi
  # The project's shared folder keeps the CLI's source (the Go module proxy refuses it here) with a script that
  # builds it with the machine's Go; its dependencies come from the proxy. Preferred whenever it is there.
  local vendored="$root/../shared/tools/build-koyeb-cli.sh"
  if [[ -f "$vendored" ]]; then
    if ! command -v go >/dev/null 2>&1; then
      echo "error: building the koyeb CLI from ../shared/vendor needs Go" >&2
      return 1
    fi
    local out
    if out="$(bash "$vendored" "$CACHE_ROOT/koyeb-cli-vendored" 2>"$CACHE_ROOT/koyeb-cli-build.log")"; then
      echo "KOYEB_CLI=$(printf '%s\n' "$out" | tail -n 1)"
      return 0
    fi
    echo "error: building the koyeb CLI with $vendored failed:" >&2
    sed 's/^/  /' "$CACHE_ROOT/koyeb-cli-build.log" >&2
    return 1
  fi
  local version="$KOYEB_CLI_VERSION"
  if [[ "$version" == latest ]]; then
    # Reuse the newest cached build before asking the proxy anything.
    local cached
    cached="$(ls -1td "$CACHE_ROOT"/koyeb-cli-*/bin/koyeb 2>/dev/null | head -n 1 || true)"
    if [[ -n "$cached" && -x "$cached" ]]; then echo "KOYEB_CLI=$cached"; return 0; fi
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "error: the koyeb CLI needs Go to install (go install github.com/koyeb/koyeb-cli/cmd/koyeb@$version)" >&2
    return 1
  fi
  mkdir -p "$CACHE_ROOT"
  local log="$CACHE_ROOT/koyeb-cli-install.log"
  if [[ "$version" == latest ]]; then
    if ! version="$(go list -m -f '{{.Version}}' github.com/koyeb/koyeb-cli@latest 2>"$log")"; then
      echo "error: resolving github.com/koyeb/koyeb-cli@latest through the Go module proxy failed:" >&2
      sed 's/^/  /' "$log" >&2
      echo "  (set KOYEB_CLI_BIN to a koyeb binary obtained another way, or run with --sdk-only)" >&2
      return 1
    fi
  fi
  local dir="$CACHE_ROOT/koyeb-cli-$version"
  local bin="$dir/bin/koyeb"
  if [[ -x "$bin" ]]; then echo "KOYEB_CLI=$bin"; return 0; fi
  mkdir -p "$dir/bin"
  # GOPROXY/GOFLAGS stay as the machine has them; only the install target is ours.
  log="$dir/install.log"
  if ! GOBIN="$dir/bin" go install "github.com/koyeb/koyeb-cli/cmd/koyeb@$version" >"$log" 2>&1; then
    echo "error: installing the koyeb CLI $version through the Go module proxy failed:" >&2
    sed 's/^/  /' "$log" >&2
    echo "  (set KOYEB_CLI_BIN to a koyeb binary obtained another way, or run with --sdk-only)" >&2
    rm -rf "$dir"
    return 1
  fi
  echo "KOYEB_CLI=$bin"
}

install_sdk() {
  local dir="$CACHE_ROOT/koyeb-sdk-$KOYEB_SDK_VERSION"
  local py="$dir/venv/bin/python"
  if [[ -x "$py" ]] && "$py" -c 'import koyeb.api' >/dev/null 2>&1; then echo "KOYEB_SDK_PYTHON=$py"; return 0; fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "error: the Koyeb Python SDK needs python3 (with the venv module)" >&2
    return 1
  fi
  mkdir -p "$dir"
  local log="$dir/install.log"
  rm -rf "$dir/venv"
  if ! { python3 -m venv "$dir/venv" && "$py" -m pip install --disable-pip-version-check -q "koyeb-sdk==$KOYEB_SDK_VERSION"; } >"$log" 2>&1 \
     || ! "$py" -c 'import koyeb.api' >>"$log" 2>&1; then
    echo "error: installing the Python SDK koyeb-sdk==$KOYEB_SDK_VERSION from PyPI failed:" >&2
    sed 's/^/  /' "$log" >&2
    rm -rf "$dir/venv"
    return 1
  fi
  echo "KOYEB_SDK_PYTHON=$py"
}

if (( want_sdk )); then install_sdk || failed+=("koyeb-sdk $KOYEB_SDK_VERSION"); fi
if (( want_cli )); then install_cli || failed+=("koyeb CLI $KOYEB_CLI_VERSION"); fi

if (( ${#failed[@]} )); then
  echo "install-koyeb-clients: FAILED: ${failed[*]}" >&2
  exit 1
fi
