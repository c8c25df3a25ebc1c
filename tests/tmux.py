"""The one tmux driver of the suite: a real terminal for the real ``salon`` command.

Each driver runs its own tmux server (``-L``, no config file), so nobody's tmux is touched; the server, and so
every session of it, gets exactly the environment given here.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

# The pane's first process when a test must close the terminal under a command and still learn how it ended: it
# runs the command as its child and writes the status a shell would report (128 + N for a signal), atomically. It
# survives the hang-up with a handler of its own, which exec resets, so the command starts with SIGHUP at its
# default, as under a login shell; being in the terminal's foreground process group, it gets the kernel's SIGHUP.
_WATCHER = """
import os, signal, subprocess, sys
signal.signal(signal.SIGHUP, lambda *_: None)
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1] + ".part", "w") as out:
    out.write(str(128 - code if code < 0 else code))
os.replace(sys.argv[1] + ".part", sys.argv[1])
"""


class Tmux:
    """A tmux server of the test's own; each command runs in a named session of it."""

    def __init__(self, env: dict[str, str], *, width: int = 120, height: int = 40,
                 check: Callable[[str], None] | None = None) -> None:
        self.socket = f"salon-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.width, self.height = width, height
        self._check = check
        """Called with every screen read (e.g. to assert no secret is ever shown)."""

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, timeout=10, env=self.env)
        if done.returncode:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self, session: str, command: list[str], cwd: Path | None = None) -> None:
        # exec: the pane's process is the command itself, so its pid is the app's, not a shell's.
        where = ["-c", str(cwd)] if cwd else []
        self.tmux("new-session", "-d", "-s", session, "-x", str(self.width), "-y", str(self.height), *where,
                  "exec " + shlex.join(command))

    def start_watched(self, session: str, command: list[str], status: Path, cwd: Path | None = None) -> None:
        """``command`` under a watcher that writes its exit status to ``status``, as a shell would report it; the
        terminal can be closed under it (:meth:`close_terminal`) and the status still read (:meth:`exit_status`)."""
        self.start(session, [sys.executable, "-c", _WATCHER, str(status), *command], cwd=cwd)

    def command_pid(self, session: str) -> int:
        """The pid of the command a watcher (or a shell) in the pane runs."""
        parent = self.pid(session)
        deadline = time.monotonic() + 30
        while not (children := Path(f"/proc/{parent}/task/{parent}/children").read_text().split()):
            if time.monotonic() > deadline:
                raise AssertionError("the pane's command never started")
            time.sleep(0.05)
        return int(children[0])

    def close_terminal(self, session: str) -> None:
        """Close the session's terminal as closing its window does: its pseudo-terminal hangs up."""
        self.tmux("kill-session", "-t", session)

    @staticmethod
    def exit_status(status: Path, timeout: float = 60) -> int | None:
        """The status a watched command exited with, once it has; None if it still runs after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not status.exists():
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return int(status.read_text())

    def screen(self, session: str) -> str:
        text = self.tmux("capture-pane", "-p", "-t", session)
        if self._check is not None:
            self._check(text)
        return text

    def type(self, session: str, text: str) -> None:
        self.tmux("send-keys", "-t", session, "-l", text)

    def press(self, session: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", session, *keys)

    def shows(self, session: str, *words: str) -> bool:
        text = self.screen(session)
        return all(word in text for word in words)

    def wait_for(self, session: str, *words: str, condition: Callable[[str], bool] | None = None,
                 timeout: float = 60.0, what: str = "") -> str:
        """The screen once it shows every one of ``words`` (and satisfies ``condition``)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(session)
            if all(word in text for word in words) and (condition is None or condition(text)):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or words}; the screen shows:\n{text}")
            time.sleep(0.1)

    def alive(self, session: str) -> bool:
        """Whether the session's command still runs (its session ends with it)."""
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", session], capture_output=True,
                              timeout=10, env=self.env).returncode == 0

    def wait_gone(self, session: str, timeout: float = 10) -> bool:
        """Wait for the session's program to exit; whether it did."""
        deadline = time.monotonic() + timeout
        while self.alive(session) and time.monotonic() < deadline:
            time.sleep(0.1)
        return not self.alive(session)

    def pid(self, session: str) -> int:
        return int(self.tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10, env=self.env)
