#!/usr/bin/env bash
# Build Salon as one self-contained Linux executable (PyInstaller --onefile: the interpreter, every dependency and
# the bundled agents and themes in one file), then smoke-test that file as a user would run it.
#
#   packaging/build-executable.sh              # build → dist/salon, then smoke-test it
#   packaging/build-executable.sh --smoke-only # smoke-test an existing dist/salon
#   PYTHON=python3.12 packaging/build-executable.sh
#
# The build happens in its own virtual environment (build/executable/venv) holding PyInstaller and a regular,
# non-editable install of this checkout, so what gets frozen is exactly what `pip install .` installs. The first run
# downloads the dependencies into it; later runs reuse it.
#
# Measured on the project's machine (x86_64, 2 cores shared with other work, run under `nice`), Python 3.11.7,
# PyInstaller 6.22.3, salon 0.1.0, on 2026-11-23:
#   build time:  87-143 s for the PyInstaller step (it varies with the load from other work on the machine); the
#                whole script, with the reinstall of this checkout and the smoke test, 165 s. A first run also
#                creates the build environment and downloads ~350 MB of dependencies into it.
#   file size:   97 MB (100,674,800 bytes); about 190 MB unpacked. Peak memory while building: 480 MB.
#   start-up:    `dist/salon --version` takes 1.4-2.1 s, against 0.07 s for the installed package: a one-file build
#                unpacks itself into a temporary folder on every start. That is the price of a single file; for
#                everyday use on a machine with Python, prefer `pipx install .` or `uv tool install .`.
#
# litellm is included. Salon imports it lazily (only for cloud models) and litellm loads most of its own modules by
# name, so PyInstaller's import analysis alone would miss it: packaging/salon.spec lists its submodules and data files
# (the local price list, tokenizer files) explicitly, leaving out only litellm's proxy server, which Salon never runs.
# litellm and its dependencies (boto3 for Bedrock, tokenizers, aiohttp, its Rust extension) are most of the file.
#
# The smoke test needs only this checkout and python3: it runs --version, `agents list` with an empty config folder,
# `ask` against the loopback Ollama test server (tests/servers/ollama.py), `ask` with a model served through litellm
# by the loopback OpenAI-compatible test server (tests/servers/openai.py; nothing leaves the machine), a headless start
# of the TUI, and a look inside the file for litellm's modules and price list.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$ROOT/build/executable"
VENV="$WORK/venv"
DIST="$ROOT/dist"
EXE="$DIST/salon"

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'build-executable: %s\n' "$*" >&2; exit 1; }

build() {
    say "build environment: $VENV"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install -q --upgrade "pyinstaller>=6.10" "$ROOT"
    # A local directory whose version did not change may be taken as already installed: install this checkout anew.
    "$VENV/bin/python" -m pip install -q --no-deps --force-reinstall "$ROOT"

    say "freezing with PyInstaller (this takes minutes)"
    local started=$SECONDS
    # PyInstaller imports litellm while collecting it: keep that import off the network and away from .env files.
    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_MODE=PRODUCTION \
        "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
        --distpath "$DIST" --workpath "$WORK/pyinstaller" \
        "$ROOT/packaging/salon.spec"
    BUILD_SECONDS=$((SECONDS - started))
    say "built $EXE in ${BUILD_SECONDS}s: $(du -h "$EXE" | cut -f1) ($(stat -c %s "$EXE") bytes)"
}

smoke() {
    [ -x "$EXE" ] || die "no executable at $EXE; build it first"
    local port="" expected_version
    # Globals, not locals: the EXIT trap runs after this function has returned.
    tmp="$(mktemp -d)"
    server_pid=""
    openai_pid=""
    trap 'kill $server_pid $openai_pid 2>/dev/null; rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/config" "$tmp/data"
    # The executable must not lean on this checkout, the developer's folders or their keys.
    local -a clean_env=(env -i "HOME=$tmp" "PATH=/usr/bin:/bin" "TERM=xterm-256color" "LANG=C.UTF-8"
                        "SALON_CONFIG_DIR=$tmp/config" "SALON_DATA_DIR=$tmp/data" "TEXTUAL_ANIMATIONS=none")

    say "smoke: --version"
    expected_version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/app/salon/__about__.py")"
    local version
    version="$(cd "$tmp" && "${clean_env[@]}" "$EXE" --version)"
    echo "$version"
    [ "$version" = "salon $expected_version" ] || die "--version printed '$version', expected 'salon $expected_version'"

    say "smoke: agents list (empty config folder: only the bundled agents)"
    local listing
    listing="$(cd "$tmp" && "${clean_env[@]}" "$EXE" agents list)"
    echo "$listing"
    local file id
    for file in "$ROOT"/agents/*.toml; do
        id="$(basename "$file" .toml)"
        grep -q "^$id " <<<"$listing" || die "agents list lacks the bundled agent '$id'"
    done
    [ "$(wc -l <<<"$listing")" -eq "$(ls "$ROOT"/agents/*.toml | wc -l)" ] || die "agents list has extra lines"

    say "smoke: ask, against the loopback Ollama test server"
    (cd "$ROOT" && exec "$PYTHON" -m tests.servers.ollama --port 0 >"$tmp/server.port" 2>"$tmp/server.log") &
    server_pid=$!
    for _ in $(seq 100); do
        port="$(head -n1 "$tmp/server.port" 2>/dev/null || true)"
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || die "the test server did not start: $(cat "$tmp/server.log")"
    local reply
    reply="$(cd "$tmp" && "${clean_env[@]}" "OLLAMA_HOST=http://127.0.0.1:$port" "$EXE" ask "hello from the bundle")"
    echo "$reply"
    # The test server echoes the prompt by default.
    [ "$reply" = "You said: hello from the bundle" ] || die "ask printed '$reply'"

    say "smoke: a cloud model through litellm, against the loopback OpenAI-compatible test server"
    (cd "$ROOT" && exec "$PYTHON" -m tests.servers.openai --port 0 >"$tmp/openai.port" 2>"$tmp/openai.log") &
    openai_pid=$!
    local openai_port=""
    for _ in $(seq 100); do
        openai_port="$(head -n1 "$tmp/openai.port" 2>/dev/null || true)"
        [ -n "$openai_port" ] && break
        sleep 0.1
    done
    [ -n "$openai_port" ] || die "the OpenAI test server did not start: $(cat "$tmp/openai.log")"
    # The bundled local-server agent (model local/…) speaks OpenAI's API through litellm to [providers.local].
    printf '[providers.local]\napi_base = "http://127.0.0.1:%s/v1"\n' "$openai_port" >"$tmp/config/config.toml"
    reply="$(cd "$tmp" && "${clean_env[@]}" "$EXE" ask --agent local-server "hello through litellm")"
    echo "$reply"
    [ "$reply" = "You said: hello through litellm" ] || die "the cloud path printed '$reply'"
    rm "$tmp/config/config.toml"

    say "smoke: headless start of the TUI (Textual's headless driver, a screenshot after 1 s, then exit)"
    (cd "$tmp" && "${clean_env[@]}" "OLLAMA_HOST=http://127.0.0.1:$port" \
        "TEXTUAL_DRIVER=textual.drivers.headless_driver:HeadlessDriver" "TEXTUAL_SCREENSHOT=1" \
        "TEXTUAL_SCREENSHOT_LOCATION=$tmp" "TEXTUAL_SCREENSHOT_FILENAME=screen.svg" \
        timeout 60 "$EXE" </dev/null) || die "the TUI did not start and exit cleanly"
    # The first screen names the default agent.
    grep -q "Assistant" "$tmp/screen.svg" || die "the TUI exited without drawing its first screen"
    echo "screen drawn: $(stat -c %s "$tmp/screen.svg") bytes of SVG"

    say "smoke: inside the file: litellm's lazily loaded modules and price list, every bundled agent and theme"
    if [ -x "$VENV/bin/pyi-archive_viewer" ]; then
        "$VENV/bin/pyi-archive_viewer" --list --recursive --brief "$EXE" >"$tmp/contents.txt"
        local entry
        # Modules litellm loads by name only when a provider is first used, so no run above touched them.
        for entry in litellm/model_prices_and_context_window_backup.json litellm.main \
                     litellm.llms.anthropic.chat.transformation litellm.llms.gemini.chat.transformation \
                     litellm.llms.bedrock.chat.converse_transformation; do
            grep -qxF " $entry" "$tmp/contents.txt" || die "the bundle lacks $entry"
        done
        for file in "$ROOT"/agents/*.toml "$ROOT"/themes/*.toml; do
            [ -e "$file" ] || continue
            entry="salon/_bundled/$(basename "$(dirname "$file")")/$(basename "$file")"
            grep -qxF " $entry" "$tmp/contents.txt" || die "the bundle lacks $entry"
        done
        echo "litellm: $(grep -c '^ litellm' "$tmp/contents.txt") entries"
    else
        echo "pyi-archive_viewer not found in $VENV; contents not listed"
    fi

    say "start-up: $(cd "$tmp" && { TIMEFORMAT='%R s'; time "${clean_env[@]}" "$EXE" --version >/dev/null; } 2>&1)"
    say "smoke test passed"
}

case "${1:-}" in
    --smoke-only) smoke ;;
    "") build; smoke ;;
    *) die "usage: $0 [--smoke-only]" ;;
esac
