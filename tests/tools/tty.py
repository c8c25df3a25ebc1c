"""Run ``salon`` on a real pseudo-terminal that is its controlling terminal, and answer its questions."""

from __future__ import annotations

import os
import pty
import select
import sys
import time

from tests.conftest import ROOT, salon_env


def converse(args: list[str], answers: dict[str, str], *, timeout: float = 90, **env: str) -> tuple[int, str]:
    """``salon ARGS`` on a terminal; whenever the screen shows a key of ``answers`` (once each), type its value.

    Returns the exit status and everything the terminal showed (its line ends made plain newlines).
    """
    pid, master = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout, stderr and /dev/tty
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "salon", *args], salon_env(**env))
    shown = bytearray()
    pending = dict(answers)
    deadline = time.monotonic() + timeout
    status = None
    while True:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise TimeoutError(f"salon {' '.join(args)} did not finish; the terminal showed:\n{shown.decode()}")
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            shown += data
        text = shown.decode("utf-8", "replace")
        for cue in list(pending):
            if cue in text:
                os.write(master, pending.pop(cue).encode())
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = code
            # Read what is left after the child exited.
            while select.select([master], [], [], 0.2)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                shown += data
            break
    if status is None:
        _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace").replace("\r\n", "\n")
