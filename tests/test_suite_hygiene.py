"""The suite's own rules, checked on its source: tests wait on conditions, never on the clock or on frames.

On a loaded machine (2 shared cores, tests running side by side under pytest-xdist) a fixed sleep is either too
short, and the test races, or too long, and the suite crawls; counting frames races the same way; and asserting how
long something took fails whenever the machine is busy. Each of these once broke a CI run. The helpers that wait on
a condition with a generous limit are ``tests.tui.conftest.wait_for``, ``Tmux.wait_for`` / ``Tmux.wait_gone``,
``tests.serve.conftest.wait_for`` and the test servers' ``hold_final``.

What this reads as a wait (by the source alone, with ``ast``):

- a *fixed sleep*: ``time.sleep(N)``, ``asyncio.sleep(N)`` or ``pilot.pause(N)`` with a number ``N``, anywhere
  but as a statement of its own directly in a ``while`` loop's body (there it is the interval of a poll, whose
  loop says what it waits for);
- *frame counting*: ``pilot.pause()`` or a sleep inside ``for … in range(…)``, or two pauses in a row;
- a *duration assert*: an ``assert`` that compares a time difference (``clock() - start``, or a name given one)
  to anything.

Code in strings (a snippet a test runs in a subprocess) is read the same way.
"""

from __future__ import annotations

import ast
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

TESTS = Path(__file__).resolve().parent

CLOCKS = {"monotonic", "perf_counter", "time", "monotonic_ns", "perf_counter_ns", "time_ns"}
SLEEPS = {"sleep", "pause"}

# Where the sleep IS the behaviour: (path under tests/, the enclosing function) -> why.
ALLOWED: dict[tuple[str, str], str] = {
    ("servers/ollama.py", "OllamaHandler.pull"):
        "the test server paces its pull progress the way Ollama's arrives, a line at a time",
    ("gguf/test_provider.py", "test_the_model_is_released_keep_alive_after_the_last_reply"):
        "keep_alive=-1 must keep the model loaded: a negative, so the test gives a wrong release time to happen "
        "(the other two cases beside it wait on the release as a condition)",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    what: str

    def __str__(self) -> str:
        return f"tests/{self.path}:{self.line} ({self.function}): {self.what}"


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_wait(node: ast.AST) -> bool:
    """A call of sleep or pause, awaited or not."""
    if isinstance(node, ast.Await):
        node = node.value
    return isinstance(node, ast.Call) and _name(node.func) in SLEEPS


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool)


def _call(node: ast.AST) -> ast.Call | None:
    if isinstance(node, ast.Await):
        node = node.value
    return node if isinstance(node, ast.Call) else None


def _counts(loop: ast.AST) -> bool:
    """A ``for … in range(…)`` loop that does nothing but wait and look: it counts frames or ticks. (A loop that
    acts each time round, a click and the pause after it, waits for each action, not for a count.)"""
    if not (isinstance(loop, ast.For | ast.AsyncFor) and isinstance(loop.iter, ast.Call)
            and _name(loop.iter.func) == "range"):
        return False
    return all(isinstance(statement, ast.If | ast.With | ast.Break | ast.Continue | ast.Pass | ast.Assert)
               or (isinstance(statement, ast.Expr) and _is_wait(statement.value)) for statement in loop.body)


def _reads_clock(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.Call) and _name(sub.func) in CLOCKS for sub in ast.walk(node))


class _Reader(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.findings: list[Finding] = []
        self.function = "<module>"
        self.loops: list[ast.AST] = []
        self.timed: set[str] = set()  # names holding a time difference in the current function

    def add(self, node: ast.AST, what: str) -> None:
        if (self.path, self.function) not in ALLOWED:
            self.findings.append(Finding(self.path, getattr(node, "lineno", 0), self.function, what))

    # -- scopes

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, loops, timed = self.function, self.loops, self.timed
        self.function = node.name if outer == "<module>" else f"{outer}.{node.name}"
        self.loops, self.timed = [], set()
        self._body(node.body)
        self.generic_visit_except_body(node)
        self.function, self.loops, self.timed = outer, loops, timed

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        outer = self.function
        self.function = node.name if outer == "<module>" else f"{outer}.{node.name}"
        self.generic_visit(node)
        self.function = outer

    def generic_visit_except_body(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self.loops.append(node)
        self._body(node.body)
        self.loops.pop()
        self._body(node.orelse)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.loops.append(node)
        self._body(node.body)
        self.loops.pop()
        self._body(node.orelse)

    visit_AsyncFor = visit_For

    def _body(self, body: list[ast.stmt]) -> None:
        self._in_a_row(body)
        for statement in body:
            self.visit(statement)

    def _in_a_row(self, body: list[ast.stmt]) -> None:
        for earlier, later in pairwise(body):
            if (isinstance(earlier, ast.Expr) and isinstance(later, ast.Expr) and _is_wait(earlier.value)
                    and _is_wait(later.value)):
                self.add(later, "two waits in a row count frames: wait for what the second one is for")

    def generic_visit(self, node: ast.AST) -> None:
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list) and statements and isinstance(statements[0], ast.stmt):
                self._in_a_row(statements)
        super().generic_visit(node)

    # -- what is flagged

    def visit_Expr(self, node: ast.Expr) -> None:
        call = _call(node.value)
        if call is not None and _name(call.func) in SLEEPS and self.loops and isinstance(self.loops[-1], ast.While) \
                and node in self.loops[-1].body:
            # A poll's interval: the loop's condition is what it waits for.
            for argument in call.args:
                self.visit(argument)
            return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if _name(node.func) in SLEEPS:
            if any(_counts(loop) for loop in self.loops):
                self.add(node, f"{_name(node.func)}() in a counted loop: wait on a condition with a deadline")
            elif node.args and _is_number(node.args[0]):
                self.add(node, f"a fixed {_name(node.func)}({ast.unparse(node.args[0])}): wait on a condition")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._difference(node.value):
            self.timed.update(target.id for target in node.targets if isinstance(target, ast.Name))
        self.generic_visit(node)

    def _difference(self, node: ast.expr) -> bool:
        return any(isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Sub)
                   and (_reads_clock(sub.left) or _reads_clock(sub.right)) for sub in ast.walk(node))

    def visit_Assert(self, node: ast.Assert) -> None:
        for compare in (sub for sub in ast.walk(node.test) if isinstance(sub, ast.Compare)):
            sides = [compare.left, *compare.comparators]
            if any(self._difference(side) or any(isinstance(sub, ast.Name) and sub.id in self.timed
                                                 for sub in ast.walk(side)) for side in sides):
                self.add(node, "asserts a duration: a busy machine makes anything slow")
                break
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # A snippet of code a test runs elsewhere (a subprocess, a probe) follows the same rules.
        if isinstance(node.value, str) and ("sleep(" in node.value or "pause(" in node.value):
            try:
                tree = ast.parse(textwrap.dedent(node.value))
            except SyntaxError:
                return
            inner = _Reader(self.path)
            inner.function = f"{self.function}.<snippet>"
            inner.visit(tree)
            offset = node.lineno - 1
            self.findings += [Finding(f.path, f.line + offset, f.function, f.what) for f in inner.findings
                              if (self.path, self.function) not in ALLOWED]


def findings(source: str, path: str = "example.py") -> list[Finding]:
    reader = _Reader(path)
    reader.visit(ast.parse(source))
    return reader.findings


def _sources() -> Iterator[Path]:
    for path in sorted(TESTS.rglob("*.py")):
        if path.name != Path(__file__).name:
            yield path


def test_no_test_sleeps_counts_frames_or_asserts_a_duration() -> None:
    found = [str(finding) for path in _sources()
             for finding in sorted(findings(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS))),
                                   key=lambda finding: finding.line)]
    assert found == [], "\n".join(found)


def test_every_allowed_sleep_is_still_there() -> None:
    """An allowance outlives its reason when the code it excused is gone: it must not excuse a new one."""
    for (path, function), _why in ALLOWED.items():
        tree = ast.parse((TESTS / path).read_text(encoding="utf-8"))
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert function.split(".")[-1] in names, f"ALLOWED names tests/{path}::{function}, which no longer exists"


# -- the reader itself must be able to fail ----------------------------------------------------------------------

def test_a_fixed_sleep_is_found() -> None:
    source = "import time\ndef test_x():\n    start()\n    time.sleep(0.5)\n    assert done()\n"
    assert [f.what for f in findings(source)] == ["a fixed sleep(0.5): wait on a condition"]


def test_an_awaited_fixed_sleep_and_a_timed_pause_are_found() -> None:
    source = ("async def test_x(pilot):\n    await asyncio.sleep(0.2)\n    if ready:\n"
              "        await pilot.pause(0.3)\n")
    assert [f.line for f in findings(source)] == [2, 4]


def test_a_polls_interval_is_not_a_fixed_sleep() -> None:
    source = ("def wait():\n    deadline = time.monotonic() + 30\n    while not ready():\n"
              "        assert time.monotonic() < deadline\n        time.sleep(0.05)\n"
              "async def test_x(pilot):\n    while not shown():\n        await pilot.pause(0.02)\n")
    assert findings(source) == []


def test_a_sleep_nested_under_an_if_in_a_poll_is_still_fixed() -> None:
    source = "def watch():\n    while True:\n        if running():\n            time.sleep(1.0)\n            report()\n"
    assert [f.line for f in findings(source)] == [4]


def test_frame_counting_is_found() -> None:
    source = ("async def test_x(pilot):\n    for _ in range(5):\n        await pilot.pause()\n"
              "    await pilot.pause()\n    await pilot.pause()\n"
              "def test_y():\n    for _ in range(30):\n        if shown():\n            break\n"
              "        time.sleep(0.1)\n")
    assert sorted(f.line for f in findings(source)) == [3, 5, 10]


def test_a_pause_after_each_action_is_not_counting() -> None:
    source = ("async def test_x(pilot, app):\n    for name in THEMES:\n        app.theme = name\n"
              "        await pilot.pause()\n        assert app.theme == name\n")
    assert findings(source) == []


def test_a_duration_assert_is_found_and_a_deadline_is_not() -> None:
    source = ("def test_x():\n    began = time.monotonic()\n    run()\n    took = time.monotonic() - began\n"
              "    assert took < 2.0\n    assert loop.time() - began > 0.1\n"
              "def test_y():\n    deadline = time.monotonic() + 30\n    while not done():\n"
              "        assert time.monotonic() < deadline\n        time.sleep(0.1)\n")
    assert [f.line for f in findings(source)] == [5, 6]


def test_a_sleep_in_a_snippet_for_a_subprocess_is_found() -> None:
    source = 'PROBE = """\nimport time\ntime.sleep(1.0)\n"""\n'
    assert [f.line for f in findings(source)] == [3]


# -- the command that runs all this ------------------------------------------------------------------------------

def _readme_test_command() -> str:
    readme = (TESTS.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Set up and run the whole test suite"):]
    block = section[section.index("```sh\n") + len("```sh\n"):]
    return block[:block.index("\n```")].strip()


def test_ci_runs_the_readmes_test_command_verbatim_in_parallel() -> None:
    command = _readme_test_command()
    ci = (TESTS.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines(), f"{command!r} is not a line of .ci/run"
    addopts = tomllib.loads((TESTS.parent / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
        "ini_options"]["addopts"].split()
    assert "-n" in addopts and "--dist" in addopts, "the suite runs across processes by default"


def test_nothing_in_ci_defeats_the_wheel_cache_that_keeps_llama_cpp_built() -> None:
    ci = (TESTS.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "--no-cache-dir" not in ci and "--no-cache-dir" not in _readme_test_command()
    assert "unset PIP_NO_CACHE_DIR" in ci
