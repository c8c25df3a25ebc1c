"""Start-up: process start to the first frame in a real terminal, Salon beside a bare Textual app.

    python bench/startup.py [--runs 7]

Each case is started in tmux (120×40) and the pane polled every 5 ms until its first screen shows; Salon is
measured with an empty database and with 1,000 stored conversations. Also prints what Salon imports to show its
first frame, and whether litellm is among it (it must not be).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, ServerProcess

CASES = {
    "hello (bare Textual)": ([sys.executable, str(ROOT / "bench" / "hello_app.py")], "hello, terminal"),
    "salon, 0 conversations": ([sys.executable, "-m", "salon"], "Ask anything"),
    "salon, 1,000 conversations": ([sys.executable, "-m", "salon"], "Ask anything"),
}


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def fill_store(data_dir: Path, conversations: int) -> None:
    from salon.reply import Reply
    from salon.store import Store

    with Store.open(data_dir) as store:
        for index in range(conversations):
            conversation = store.create_conversation("assistant")
            store.add_user_message(conversation.id, f"Question number {index} about virtue and knowledge?")
            store.start_reply(conversation.id, f"msg_bench_{index}", agent_id="assistant", agent_name="Assistant",
                              model="ollama/llama3.2")
            store.finish_reply(f"msg_bench_{index}", Reply(text=f"Answer {index}. " * 20), "complete")


def time_to_first_frame(command: list[str], marker: str, env: dict[str, str]) -> float:
    session = f"salon-start-{uuid.uuid4().hex[:8]}"
    env_args = [f"{k}={v}" for k, v in env.items()]
    started = time.monotonic()
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "env", *env_args, *command)
    try:
        deadline = started + 30
        while time.monotonic() < deadline:
            if marker in tmux("capture-pane", "-p", "-t", session):
                return time.monotonic() - started
            time.sleep(0.005)
        raise RuntimeError(f"{command} showed no {marker!r} within 30 s")
    finally:
        tmux("kill-session", "-t", session)


def imports_at_first_frame(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import sys, asyncio\n"
        "from salon.tui.app import SalonApp\n"
        "async def main():\n"
        "    app = SalonApp()\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "        mods = set(sys.modules)\n"
        "    print(len(mods), 'litellm' in mods, 'salon.providers.cloud.provider' in mods)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env},
                          cwd=ROOT, timeout=60)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    count, litellm, cloud = done.stdout.split()
    return {"modules": int(count), "litellm imported": litellm == "True", "cloud provider imported": cloud == "True"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    pythonpath = f"{ROOT / 'app'}{os.pathsep}{ROOT}"
    sys.path[:0] = [str(ROOT / "app"), str(ROOT)]
    results: dict[str, float] = {}
    with ServerProcess() as server, tempfile.TemporaryDirectory() as tmp:
        for name, (command, marker) in CASES.items():
            data_dir = Path(tmp) / name.split(",")[-1].strip().replace(" ", "-")
            config_dir = data_dir / "config"
            config_dir.mkdir(parents=True, exist_ok=True)
            if "1,000" in name:
                fill_store(data_dir, 1000)
            env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "TERM": "xterm-256color",
                   "PYTHONPATH": pythonpath, "OLLAMA_HOST": server.host, "SALON_DATA_DIR": str(data_dir),
                   "SALON_CONFIG_DIR": str(config_dir), "TEXTUAL_ANIMATIONS": "none"}
            runs = [time_to_first_frame(command, marker, env) for _ in range(args.runs)]
            results[name] = statistics.median(runs)
        imports = imports_at_first_frame({"PYTHONPATH": pythonpath, "OLLAMA_HOST": server.host,
                                          "SALON_DATA_DIR": str(Path(tmp) / "0-conversations"),
                                          "SALON_CONFIG_DIR": str(Path(tmp) / "0-conversations" / "config")})
    bare = results["hello (bare Textual)"]
    print("| case | first frame, median s | × bare Textual |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.3f} | {seconds / bare:.2f} |")
    print(f"\nAt Salon's first frame: {json.dumps(imports)}")


if __name__ == "__main__":
    main()
