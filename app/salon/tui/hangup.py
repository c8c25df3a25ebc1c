"""The chat app's terminal can go away under it: the window closed, ``tmux kill-session``, an ssh link dropped.

Textual's Linux driver assumes its terminal outlives it, and closing the terminal hung the app for good, mid-reply
or idle (a ``gguf/…`` model kept generating for nobody). The kernel hangs a terminal up with SIGHUP *and* SIGCONT;
Textual reads any SIGCONT as the return from Ctrl+Z and starts application mode a second time: a second writer
thread (the first one orphaned) and a second input thread. The new writer's first write fails (EIO on a hung-up
terminal) and the thread dies; its queue holds 30 writes, and the 31st — a frame, or the shutdown's own "mouse off"
— blocks the event loop forever, before the partial reply can be saved.

:class:`SalonDriver` keeps the driver's threads working when the terminal has gone: a SIGCONT resumes application
mode only after a SIGTSTP suspended it; output to a terminal that answers EIO is dropped instead of killing the
writer thread (whose queue then keeps draining, so no write ever blocks); a read that fails (EIO) ends the input
thread quietly instead of in a panic (exit 1, nothing saved). Either failure calls the app's ``terminal_lost()`` on
its loop, and the app ends as on SIGHUP: the partial reply saved, exit 129. That also covers a process that never
got the SIGHUP (started under ``nohup``, or a terminal emulator that only closes).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


class _TerminalOutput:
    """The terminal as Textual's writer thread sees it; once a write fails, every later one is dropped."""

    def __init__(self, file: IO[str], lost: Callable[[], None]) -> None:
        self._file = file
        self._lost = lost
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except OSError:
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError:
                self._lose()

    def _lose(self) -> None:
        self.gone = True
        self._lost()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, errors…: whatever else a file is asked
        return getattr(self._file, name)


class SalonDriver(LinuxDriver):
    """Textual's Linux driver, made to survive the loss of its terminal (see the module's docstring)."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self._suspended = False
        self._output = _TerminalOutput(self._file, self._terminal_lost)  # type: ignore[arg-type]
        self._file = self._output  # type: ignore[assignment]

    @property
    def terminal_gone(self) -> bool:
        return self._output.gone

    def _sigtstp_application(self, *args: Any) -> None:
        self._suspended = True
        super()._sigtstp_application(*args)

    def _sigcont_application(self, *args: Any) -> None:
        # Only the SIGCONT that ends a Ctrl+Z resumes; the one a hang-up brings must not start a second writer.
        if self._suspended and not self.terminal_gone:
            self._suspended = False
            super()._sigcont_application(*args)

    def write(self, data: str) -> None:
        # A writer thread that has ended takes no more: its queue would fill and the 31st write block for good
        # (Ctrl+Z, then the terminal closed: the resume fails before starting a new writer).
        writer = self._writer_thread
        if writer is None or writer.is_alive():
            super().write(data)

    def close(self) -> None:
        writer = self._writer_thread
        if writer is not None and writer.is_alive():
            super().close()

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError:
            # EIO: the terminal hung up under the read (a pseudo-terminal whose other side closed). Textual would
            # panic, exit 1 and skip saving the reply, with nowhere left to show the traceback.
            self._terminal_lost()

    def _terminal_lost(self) -> None:
        """From the writer or the input thread: tell the app, on its own loop (it acts on the first call only)."""
        lost = getattr(self._app, "terminal_lost", None)
        if lost is not None:
            with suppress(RuntimeError):  # the loop has closed: the app has ended already
                self._loop.call_soon_threadsafe(lost)
