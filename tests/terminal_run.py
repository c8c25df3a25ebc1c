"""Run the real ``salon`` command with a pseudo-terminal as its standard output and standard error, and read back
every byte the terminal received (what a user's terminal would have obeyed)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from dataclasses import dataclass

from tests.conftest import ROOT, salon_env


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    stdout: str  # as the terminal received it, its own line ends (\r\n) made plain newlines
    stderr: str
    raw_stdout: bytes
    raw_stderr: bytes


def run_on_terminal(*args: str, timeout: float = 60, **env: str) -> TerminalRun:
    """``salon ARGS`` with standard output and standard error each on a pseudo-terminal of its own."""
    masters, slaves = zip(*(pty.openpty() for _ in range(2)), strict=True)
    process = subprocess.Popen([sys.executable, "-m", "salon", *args], stdin=subprocess.DEVNULL,
                               stdout=slaves[0], stderr=slaves[1], env=salon_env(**env), cwd=ROOT)
    for slave in slaves:
        os.close(slave)
    received: dict[int, bytearray] = {fd: bytearray() for fd in masters}
    open_fds = set(masters)
    deadline = time.monotonic() + timeout
    try:
        while open_fds:
            if time.monotonic() > deadline:
                raise TimeoutError(f"salon {' '.join(args)} did not finish in {timeout} s")
            ready, _, _ = select.select(list(open_fds), [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the last writer closed its side
                    data = b""
                if data:
                    received[fd] += data
                else:
                    open_fds.discard(fd)
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for fd in masters:
            os.close(fd)
    out, err = (bytes(received[fd]) for fd in masters)
    return TerminalRun(process.returncode, _plain(out), _plain(err), out, err)


def _plain(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


def run_in_pipe(*args: str, input: bytes | None = None, timeout: float = 60,
                **env: str) -> subprocess.CompletedProcess[bytes]:
    """``salon ARGS`` with standard output and standard error through pipes, read as bytes."""
    return subprocess.run([sys.executable, "-m", "salon", *args], input=input,
                          stdin=None if input is not None else subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, env=salon_env(**env), cwd=ROOT)
