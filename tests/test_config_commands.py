"""`salon config path|show|edit`, run as the real command in a subprocess."""

from __future__ import annotations

import os
import shlex
import stat
import sys
import tomllib
from pathlib import Path

from tests.conftest import run_salon

SECRETS = ("sk-live-0123456789abcdef", "hunter2", "sk-proj-secretheader", "abc123token", "gsk_0123456789",
           "env-secret-value")


def editor(tmp_path: Path, body: str) -> str:
    """An $EDITOR that runs ``body`` with ``path`` bound to the file it was asked to edit."""
    script = tmp_path / "editor.py"
    script.write_text("import os, pathlib, sys\npath = pathlib.Path(sys.argv[-1])\n" + body)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def test_path_prints_where_config_toml_lives(config_dir):
    result = run_salon("config", "path")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{config_dir / 'config.toml'}\n"


def test_show_without_a_file_prints_every_default(config_dir, data_dir):
    result = run_salon("config", "show")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(not created yet: every value is a default)" in out
    assert 'theme = "salon-dark"' in out and 'default_agent = "assistant"' in out
    assert "follow = true" in out and "show_thinking = false" in out
    assert 'host = "http://127.0.0.1:11434"' in out and "read_timeout = 120.0" in out
    assert f'data_dir = "{data_dir}"' in out
    assert result.stderr == ""
    assert not (config_dir / "config.toml").exists(), "show never creates the file"


def test_show_prints_what_the_file_sets_and_says_where_each_value_came_from(config_dir):
    (config_dir / "config.toml").write_text(
        'theme = "nord"\nfollow = "yes"\n[ollama]\nread_timeout = 300\n[keymap]\n"log.copy_message" = "Ctrl+Y"\n')
    result = run_salon("config", "show")
    assert result.returncode == 0
    lines = {line.split("=")[0].strip(): line for line in result.stdout.splitlines() if "=" in line}
    assert lines["theme"].endswith("# config.toml")
    assert lines["follow"].startswith("follow = true") and "ignored" in lines["follow"]
    assert lines["read_timeout"].startswith("read_timeout = 300")
    assert lines['"log.copy_message"'] == '"log.copy_message" = "ctrl+y"'
    assert f"warning: {config_dir / 'config.toml'}: 'follow' should be bool; ignored" in result.stderr


def test_show_never_prints_a_secret(config_dir):
    (config_dir / "config.toml").write_text(
        '[ollama]\nhost = "http://me:hunter2@gpu-box:11434"\n'
        '[providers.openai]\napi_key_env = "OPENAI_API_KEY"\napi_key = "sk-live-0123456789abcdef"\n'
        'models = ["gpt-4o-mini"]\n'
        'api_base = "https://proxy.example/v1?token=abc123token&region=eu"\n'
        'headers = { Authorization = "Bearer x", "X-Extra" = "sk-proj-secretheader", "X-Team" = "blue" }\n'
        '[providers.groq]\napi_key_env = "gsk_0123456789"\n'
    )
    result = run_salon("config", "show", OPENAI_API_KEY="env-secret-value")
    assert result.returncode == 0
    printed = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in printed
    assert 'host = "http://me:<redacted>@gpu-box:11434"' in result.stdout
    assert 'api_key_env = "OPENAI_API_KEY"' in result.stdout and "set in the environment" in result.stdout
    assert "region=eu" in result.stdout and "token=<redacted>" in result.stdout
    assert 'headers.X-Team = "blue"' in result.stdout and 'models = ["gpt-4o-mini"]' in result.stdout
    assert 'headers.Authorization = "<redacted>"' in result.stdout
    assert "should name a variable, not hold a key" in result.stdout
    assert "API keys do not belong in config.toml" in result.stderr


def test_show_with_a_malformed_file_prints_defaults_and_names_the_file(config_dir):
    path = config_dir / "config.toml"
    path.write_text('theme = "nord"\n[ollama\n')
    result = run_salon("config", "show")
    assert result.returncode == 0
    assert 'theme = "salon-dark"' in result.stdout
    assert f"warning: {path}: " in result.stderr and "using default settings" in result.stderr


def test_show_names_a_theme_or_agent_that_does_not_exist(config_dir):
    (config_dir / "config.toml").write_text('theme = "nrod"\ndefault_agent = "sokrates"\n')
    result = run_salon("config", "show")
    assert "theme 'nrod' does not exist; Salon will use salon-dark" in result.stderr
    assert "default_agent 'sokrates' does not exist" in result.stderr


def test_edit_creates_a_private_file_of_commented_defaults_then_checks_it(config_dir, tmp_path):
    path = config_dir / "config.toml"
    seen = tmp_path / "seen.txt"
    body = (f"pathlib.Path({str(seen)!r}).write_text(path.read_text())\n"
            f"pathlib.Path({str(tmp_path / 'mode')!r}).write_text(oct(os.stat(path).st_mode & 0o777))\n"
            "path.write_text(path.read_text() + 'theme = \"salon-light\"\\n')\n")
    result = run_salon("config", "edit", EDITOR=editor(tmp_path, body))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "mode").read_text() == "0o600", "the file is private before the editor opens it"
    assert "# theme = \"salon-dark\"" in seen.read_text()
    assert tomllib.loads(seen.read_text()) == {}
    assert result.stdout == f"ok   {path}\n"
    assert tomllib.loads(path.read_text())["theme"] == "salon-light"


def test_edit_reports_invalid_toml_with_its_line(config_dir, tmp_path):
    path = config_dir / "config.toml"
    path.write_text('theme = "nord"\n')
    broken = editor(tmp_path, "path.write_text('theme = \"nord\"\\nfollow = \\n')\n")
    result = run_salon("config", "edit", EDITOR=broken)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}:2: invalid TOML: ")
    assert "Salon will start with default settings until it is fixed" in result.stdout


def test_edit_reports_settings_problems(config_dir, tmp_path):
    path = config_dir / "config.toml"
    body = ("path.write_text('theme = \"nrod\"\\n[ollama]\\nread_timeout = \"slow\"\\n"
            "[keymap]\\nhelp = \"hyperx+q\"\\n')\n")
    result = run_salon("config", "edit", EDITOR=editor(tmp_path, body))
    assert result.returncode == 1
    assert f"{path}: 'ollama.read_timeout' should be int; ignored" in result.stdout
    assert "theme 'nrod' does not exist" in result.stdout
    assert "keymap.help: 'hyperx+q': 'hyperx' is not a modifier" in result.stdout


def test_edit_prefers_visual_to_editor_and_puts_a_loosened_mode_back_to_0600(config_dir, tmp_path):
    path = config_dir / "config.toml"
    path.write_text('theme = "nord"\n')
    os.chmod(path, 0o600)
    visual = editor(tmp_path, "os.chmod(path, 0o644)\n")
    (tmp_path / "other").mkdir()
    wrong = editor(tmp_path / "other", "path.write_text('chosen = EDITOR')\n")
    result = run_salon("config", "edit", VISUAL=visual, EDITOR=wrong)
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.read_text() == 'theme = "nord"\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_edit_without_any_editor_says_how_to_choose_one(config_dir, tmp_path):
    env = {"PATH": str(tmp_path / "empty"), "EDITOR": "", "VISUAL": ""}
    result = run_salon("config", "edit", **env)
    assert result.returncode == 1
    assert "no editor found: set $VISUAL or $EDITOR" in result.stderr


def test_edit_with_an_editor_that_cannot_start_says_so(config_dir):
    result = run_salon("config", "edit", EDITOR="/nonexistent/editor --wait")
    assert result.returncode == 1
    assert "cannot start the editor '/nonexistent/editor --wait'" in result.stderr
