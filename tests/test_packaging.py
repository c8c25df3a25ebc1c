"""Salon as a user receives it: the wheel and sdist built, opened, installed into a fresh environment and run.

The fresh environment is a new virtual environment with the wheel installed into it (not editable). So that CI does
not download ~300 MB of dependencies on every run, it borrows the dependencies already installed for the test run
through a ``.pth`` file; ``.pth`` files inside a borrowed folder are not processed, so the editable install of this
checkout cannot leak in, and each test checks that ``salon`` is loaded from the new environment's own files.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import site
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.servers.ollama import OllamaServer

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
VERSION = re.search(r'^__version__ = "([^"]+)"', (ROOT / "app/salon/__about__.py").read_text(), re.M).group(1)
AGENT_FILES = sorted(p.name for p in (ROOT / "agents").glob("*.toml"))
# Themes are being added while this is written: assert on whatever theme files the checkout has.
THEME_FILES = sorted(p.name for p in (ROOT / "themes").glob("*") if p.is_file()) if (ROOT / "themes").is_dir() else []


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class Installed:
    """A fresh virtual environment with the wheel installed in it."""

    root: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def salon(self) -> Path:
        return self.root / "bin" / "salon"

    def run(self, *args: str | Path, cwd: Path, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess:
        # Nothing of this checkout on the path: no PYTHONPATH, and a working folder outside the repository.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
        env.update(extra_env)
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=cwd, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: hatchling comes from the test environment, so building needs no network. The default (sdist,
    # then the wheel built from that sdist) also proves the sdist is complete enough to build from.
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Dists(wheel, sdist)


def _dependency_dirs() -> list[Path]:
    """The folders this test run's Python loads its third-party packages from."""
    dirs = [Path(p) for p in site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(Path(site.getusersitepackages()))
    # Wherever Salon's own dependencies actually live, in case that is none of the above.
    try:
        requirements = metadata.requires("salon") or []
    except metadata.PackageNotFoundError:  # run from a checkout on PYTHONPATH, not installed
        requirements = []
    for requirement in requirements:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        dirs.append(Path(str(metadata.distribution(name).locate_file(""))))
    unique = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in unique and d.resolve() != (ROOT / "app").resolve():
            unique.append(d.resolve())
    return unique


@pytest.fixture(scope="module")
def installed(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(subprocess.run([str(root / "bin" / "python"), "-c", where], capture_output=True, text=True,
                                        check=True).stdout.strip())
    (site_packages / "zz-borrowed-dependencies.pth").write_text(
        "".join(f"{d}\n" for d in _dependency_dirs()), encoding="utf-8")
    # This run's pip installs into the new environment (--python): the new one needs no pip of its own.
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install",
                             "--no-deps", "--no-index", "--no-compile", "-q", str(dists.wheel)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return Installed(root, site_packages)


# --- what the archives carry ----------------------------------------------------------------------------------------

def test_sdist_carries_the_source_agents_and_themes(dists: Dists) -> None:
    assert dists.sdist.name == f"salon-{VERSION}.tar.gz"
    with tarfile.open(dists.sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {f"agents/{f}" for f in AGENT_FILES} <= names
    assert {f"themes/{f}" for f in THEME_FILES} <= names
    assert {"pyproject.toml", "README.md", "app/salon/__about__.py", "app/salon/cli/dispatch.py"} <= names
    assert not [n for n in names if n.startswith(".venv/") or "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_carries_agents_and_themes_inside_the_package(dists: Dists) -> None:
    assert dists.wheel.name == f"salon-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(dists.wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"salon-{VERSION}.dist-info/entry_points.txt").decode()
        wheel_metadata = archive.read(f"salon-{VERSION}.dist-info/METADATA").decode()
    assert {n.removeprefix("salon/_bundled/agents/") for n in names
            if n.startswith("salon/_bundled/agents/")} == set(AGENT_FILES)
    assert {n.removeprefix("salon/_bundled/themes/") for n in names
            if n.startswith("salon/_bundled/themes/")} == set(THEME_FILES)
    assert "salon = salon.cli:main" in entry_points
    assert f"\nVersion: {VERSION}\n" in wheel_metadata
    # Every file of the package (modules, stylesheets, anything added later) and nothing from outside it.
    package_files = {f"salon/{p.relative_to(ROOT / 'app/salon').as_posix()}" for p in (ROOT / "app/salon").rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert package_files <= names
    assert not [n for n in names if not n.startswith(("salon/", f"salon-{VERSION}.dist-info/"))]


def _requirement_closure(requirements: list[str]) -> set[str]:
    """Every distribution a fresh install of these requirements brings in (extras not asked for left out)."""
    seen: set[str] = set()
    pending = [r for r in requirements]
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name not in seen:
            seen.add(name)
            pending += metadata.requires(requirement.name) or []
    return seen


def test_every_third_party_import_in_the_wheel_comes_with_its_dependencies(dists: Dists) -> None:
    # The tests borrow an environment that also holds test and dev tools: this is what catches a module that only
    # works because something undeclared happens to be installed.
    with zipfile.ZipFile(dists.wheel) as archive:
        wheel_metadata = archive.read(f"salon-{VERSION}.dist-info/METADATA").decode()
        sources = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".py")}
    requirements = [line.removeprefix("Requires-Dist: ") for line in wheel_metadata.splitlines()
                    if line.startswith("Requires-Dist: ")]
    installed_with_salon = _requirement_closure(requirements)
    providers = metadata.packages_distributions()
    imported: dict[str, str] = {}
    for name, source in sources.items():
        for node in ast.walk(ast.parse(source, name)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top != "salon" and top not in sys.stdlib_module_names:
                    imported.setdefault(top, name)
    assert imported, "no third-party import found: the scan is broken"
    for top, where in imported.items():
        distributions = {canonicalize_name(d) for d in providers.get(top, [])}
        assert distributions & installed_with_salon, f"{where} imports {top}, which no dependency of salon installs"


def test_the_version_has_one_source() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "app/salon/__about__.py"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(VERSION)}\]", changelog, re.M), "CHANGELOG.md has no entry for " + VERSION


# --- the installed wheel, run -------------------------------------------------------------------------------------

def test_installed_salon_is_the_wheel_not_this_checkout(installed: Installed, tmp_path: Path) -> None:
    result = installed.run(installed.python, "-c",
                           "import salon, salon.locations as l; print(salon.__file__); print(l.bundled_agents_dir()); "
                           "print(l.bundled_themes_dir())", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    module, agents_dir, themes_dir = (Path(line) for line in result.stdout.splitlines())
    assert module.is_relative_to(installed.site_packages)
    assert agents_dir == installed.site_packages / "salon" / "_bundled" / "agents"
    assert sorted(p.name for p in agents_dir.glob("*.toml")) == AGENT_FILES
    assert sorted(p.name for p in themes_dir.glob("*") if p.is_file()) == THEME_FILES


def test_installed_salon_prints_its_version(installed: Installed, tmp_path: Path) -> None:
    result = installed.run(installed.salon, "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"salon {VERSION}"


def test_installed_salon_lists_the_bundled_agents(installed: Installed, tmp_path: Path, config_dir: Path) -> None:
    assert not any(config_dir.iterdir())
    result = installed.run(installed.salon, "agents", "list", cwd=tmp_path, SALON_CONFIG_DIR=str(config_dir))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert sorted(listed) == sorted(Path(f).stem for f in AGENT_FILES)

    shown = installed.run(installed.salon, "agents", "show", "assistant", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    (file_line,) = [line for line in shown.stdout.splitlines() if line.startswith("file:")]
    assert Path(file_line.split(":", 1)[1].strip()).is_relative_to(installed.site_packages)


def test_installed_salon_answers_a_prompt(installed: Installed, tmp_path: Path,
                                          ollama_server: OllamaServer) -> None:
    result = installed.run(installed.salon, "ask", "hello from the wheel", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hello from the wheel\n"


def test_installed_salon_starts_the_tui_headless(installed: Installed, tmp_path: Path,
                                                 ollama_server: OllamaServer) -> None:
    # The real `salon` command with no arguments, as a user starts it; Textual's own switches swap the terminal for
    # its headless driver and save a screenshot, then exit, one second after the app is ready.
    result = installed.run(installed.salon, cwd=tmp_path, timeout=60,
                           TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver",
                           TEXTUAL_SCREENSHOT="1", TEXTUAL_SCREENSHOT_LOCATION=str(tmp_path),
                           TEXTUAL_SCREENSHOT_FILENAME="screen.svg")
    assert result.returncode == 0, result.stdout + result.stderr
    screen = (tmp_path / "screen.svg").read_text(encoding="utf-8")
    text = screen.replace("&#160;", " ")
    assert "<svg" in screen
    # The default agent is named on the first screen.
    assert "Assistant" in text


# --- the desktop entry, icon and their installer ------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed")
def test_desktop_entry_validates() -> None:
    result = subprocess.run(["desktop-file-validate", str(PACKAGING / "salon.desktop")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_desktop_entry_opens_salon_in_a_terminal() -> None:
    entry = dict(line.split("=", 1) for line in (PACKAGING / "salon.desktop").read_text().splitlines()
                 if "=" in line)
    assert entry["Terminal"] == "true"
    assert entry["Exec"] == "salon"
    assert entry["Icon"] == "salon"
    assert entry["Categories"].endswith(";") and "Chat" in entry["Categories"].split(";")
    assert "Ollama" in entry["Keywords"].split(";")


def test_icon_is_a_square_svg() -> None:
    root = ElementTree.parse(PACKAGING / "salon.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width == height


def test_install_desktop_puts_entry_icon_and_manual_in_xdg_data_home_and_removes_them(tmp_path: Path) -> None:
    data = tmp_path / "share"
    # Where pipx or uv would put the command: a script whose interpreter has salon's dependencies.
    salon = tmp_path / "my tools" / "salon"
    salon.parent.mkdir()
    salon.write_text(f"#!{sys.executable}\nfrom salon.cli.dispatch import main\n")
    salon.chmod(0o755)
    env = {**os.environ, "XDG_DATA_HOME": str(data), "SALON_EXEC": str(salon)}
    script = str(PACKAGING / "install-desktop.sh")

    installed = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=60)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    desktop = data / "applications" / "salon.desktop"
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "salon.svg"
    manual = data / "man" / "man1" / "salon.1"
    lines = desktop.read_text().splitlines()
    # The launcher names the command by absolute path: a desktop session's PATH may not include it.
    assert f'Exec="{salon}"' in lines
    assert f"TryExec={salon}" in lines
    assert "Terminal=true" in lines
    assert icon.read_bytes() == (PACKAGING / "salon.svg").read_bytes()
    assert manual.read_text().startswith('.\\" Generated by packaging/make-manpage.py')

    removed = subprocess.run(["bash", script, "--uninstall"], capture_output=True, text=True, env=env, timeout=60)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not desktop.exists() and not icon.exists() and not manual.exists()
