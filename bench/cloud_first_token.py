"""Cloud first token: a `salon ask --stream` beside a bare `litellm.acompletion`, both cold processes.

    python bench/cloud_first_token.py [--runs 5]

Both start a fresh interpreter and stream from the same loopback OpenAI-protocol server (tests/servers/openai.py);
each figure is process start to the first byte of reply text on standard output. The runs alternate, so a load
that comes and goes on a shared machine falls on both; read the difference and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The bare floor: what any program that streams through litellm pays (its import included), set up as Salon sets
# it up for offline use, so the comparison is of Salon's own work and nothing else.
BARE = """
import asyncio, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm
litellm.suppress_debug_info = True
async def main():
    stream = await litellm.acompletion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                       stream=True, api_base=sys.argv[1], api_key="sk-bench")
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            sys.stdout.write(chunk.choices[0].delta.content)
            sys.stdout.flush()
asyncio.run(main())
"""


def first_byte_seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdout is not None
    if not process.stdout.read(1):
        raise SystemExit(f"no reply from {command[:3]}")
    elapsed = time.monotonic() - started
    process.wait(timeout=60)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, "-m", "tests.servers.openai"], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        api_base = f"http://127.0.0.1:{server.stdout.readline().strip()}/v1"
        with tempfile.TemporaryDirectory() as folder:
            config_dir, data_dir = Path(folder, "config"), Path(folder, "data")
            config_dir.mkdir()
            (config_dir / "config.toml").write_text(
                f'[providers.openai]\napi_key_env = "OPENAI_API_KEY"\napi_base = "{api_base}"\n'
                'models = ["gpt-4o-mini"]\n')
            env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "SALON_CONFIG_DIR": str(config_dir),
                   "SALON_DATA_DIR": str(data_dir)}
            bare_cmd = [sys.executable, "-c", BARE, api_base]
            salon_cmd = [sys.executable, "-m", "salon", "ask", "-m", "openai/gpt-4o-mini", "--stream", "hi"]
            bare: list[float] = []
            salon: list[float] = []
            for _ in range(args.runs):
                bare.append(first_byte_seconds(bare_cmd, env))
                salon.append(first_byte_seconds(salon_cmd, env))
    finally:
        server.terminate()
        server.wait()

    bare_median, salon_median = statistics.median(bare), statistics.median(salon)
    print("| process start → first reply byte | median (s) | runs (s) |")
    print("|---|---:|---|")
    print(f"| bare `litellm.acompletion` | {bare_median:.2f} | {', '.join(f'{s:.2f}' for s in bare)} |")
    print(f"| `salon ask --stream` (cloud) | {salon_median:.2f} | {', '.join(f'{s:.2f}' for s in salon)} |")
    print()
    print(f"Salon over bare: {salon_median - bare_median:+.2f} s ({salon_median / bare_median:.2f} ×); "
          "target: within 1 s")


if __name__ == "__main__":
    main()
