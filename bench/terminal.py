"""The stream benchmark through a real terminal: the app in tmux at 120×40, read back with capture-pane.

    python bench/terminal.py [--runs 3] [--tokens 5000]

Starts the Ollama test server, runs `salon` (and the per-token MarkdownStream baseline app) in tmux, sends a
prompt, and polls the pane until the reply's last words are visible. Reports wall time from Enter to the last
words, lag after the server's last token, the app process's CPU seconds and peak RSS (from /proc).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import LAST_WORDS, ROOT, ServerProcess, realistic_markdown
from tests.servers.ollama import Scripted

COMMANDS = {
    "salon": [sys.executable, "-m", "salon"],
    "baseline": [sys.executable, str(ROOT / "bench" / "baseline_app.py")],
}
TICKS = os.sysconf("SC_CLK_TCK")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def app_pid(session: str) -> int:
    shell_pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
    return shell_pid  # the pane runs the app directly (no shell), so the pane's process is the app


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(case: str, tokens: int, data_dir: Path) -> dict[str, object]:
    text = realistic_markdown(tokens)
    session = f"salon-bench-{uuid.uuid4().hex[:8]}"
    with ServerProcess() as server:
        server.script(Scripted(text=text))
        env = {**os.environ, "OLLAMA_HOST": server.host, "PYTHONPATH": f"{ROOT / 'app'}{os.pathsep}{ROOT}",
               "SALON_DATA_DIR": str(data_dir), "SALON_CONFIG_DIR": str(data_dir / "config"),
               "TERM": "xterm-256color"}
        env_args = [f"{k}={v}" for k, v in env.items() if k in (
            "OLLAMA_HOST", "PYTHONPATH", "SALON_DATA_DIR", "SALON_CONFIG_DIR", "TERM", "PATH", "HOME")]
        tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "env", *env_args, *COMMANDS[case])
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(tmux("capture-pane", "-p", "-t", session).strip()) < 10:
                time.sleep(0.05)
            time.sleep(0.5)  # let start-up work settle before the prompt
            pid = app_pid(session)
            cpu_before = cpu_seconds(pid)
            tmux("send-keys", "-t", session, "-l", "Write the long answer.")
            sent = time.monotonic()
            tmux("send-keys", "-t", session, "Enter")
            seen = None
            deadline = sent + 180
            while time.monotonic() < deadline:
                if LAST_WORDS in tmux("capture-pane", "-p", "-t", session):
                    seen = time.time()
                    break
                time.sleep(0.02)
            wall = time.monotonic() - sent
            cpu = cpu_seconds(pid) - cpu_before
            rss = peak_rss_mb(pid)
            finished = server.finished_at()
        finally:
            tmux("kill-session", "-t", session)
    return {"case": case, "tokens": tokens, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss,
            "lag_s": (seen - finished[-1]) if seen and finished else None, "seen": seen is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--cases", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("bench/terminal.py needs tmux")
    import tempfile

    rows = []
    for case in args.cases:
        runs = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "config").mkdir()
                runs.append(measure(case, args.tokens, Path(tmp)))
        med = {k: statistics.median([r[k] for r in runs if r[k] is not None] or [float("nan")])
               for k in ("wall_s", "cpu_s", "peak_rss_mb", "lag_s")}
        rows.append({"case": case, **med, "seen": all(r["seen"] for r in runs)})
    print("| case | tokens | wall s | lag after last token s | CPU s | peak RSS MB | all seen |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['case']} | {args.tokens} | {r['wall_s']:.2f} | {r['lag_s']:.2f} | {r['cpu_s']:.2f} | "
              f"{r['peak_rss_mb']:.0f} | {r['seen']} |")


if __name__ == "__main__":
    main()
