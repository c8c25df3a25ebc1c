"""[mcp_servers.NAME] in the user's config.toml, and `salon config import-mcp` for other clients' JSON."""

from __future__ import annotations

import json
import stat

import pytest

from salon.config.read import load_config
from tests.conftest import run_salon

GOOD = '[mcp_servers.time]\ncommand = "uvx"\nargs = ["mcp-server-time"]\n'


@pytest.mark.parametrize(("table", "line", "reason"), [
    ('[mcp_servers.bad]\nargs = ["x"]\n', 5, "needs either 'command'"),
    ('[mcp_servers.bad]\ncommand = "x"\nurl = "http://h/mcp"\n', 5, "not both"),
    ('[mcp_servers.bad]\nurl = "ftp://h"\n', 6, "'url' should be an http:// or https:// URL"),
    ('[mcp_servers.bad]\ncommand = "x"\n\ntimeout = -1\n', 8, "'timeout' should be a number of seconds above 0"),
    ('[mcp_servers.bad]\ncommand = "x"\nargs = "one string"\n', 7, "'args' should be an array of strings"),
    ('[mcp_servers.bad]\ncommand = "x"\nenv = { TOKEN = 3 }\n', 7, "'env' values should be strings"),
    ('[mcp_servers.bad]\ncommand = "x"\napprove = "always"\n', 7, "'approve' should be \"ask\" or \"auto\""),
    ('[mcp_servers.bad]\ncommand = "x"\ncomand = "typo"\n', 7, "unknown key 'comand'"),
    ('[mcp_servers.bad]\ncommand = "x"\n[mcp_servers.bad.tools.t]\napprove = "maybe"\n', 7, "tools.t.approve"),
])
def test_a_malformed_server_is_located_by_file_and_line_and_the_rest_still_load(config_dir, table, line, reason):
    path = config_dir / "config.toml"
    path.write_text(GOOD + "\n" + table, encoding="utf-8")
    config = load_config(path)
    assert set(config.mcp_servers) == {"time"}
    [warning] = config.warnings
    assert warning.startswith(f"{path}:{line}: [mcp_servers.bad]")
    assert reason in warning and "this server is not loaded" in warning


def test_auto_approval_is_read_per_server_and_per_tool(config_dir):
    path = config_dir / "config.toml"
    path.write_text(GOOD + 'approve = "auto"\n[mcp_servers.time.tools.convert_time]\napprove = "ask"\n'
                    '[mcp_servers.web]\nurl = "http://127.0.0.1:9/mcp"\ntimeout = 5\n', encoding="utf-8")
    config = load_config(path)
    assert config.warnings == ()
    assert config.mcp_servers["time"].approval("get_current_time") == "auto"
    assert config.mcp_servers["time"].approval("convert_time") == "ask"
    assert config.mcp_servers["web"].approval("anything") == "ask" and config.mcp_servers["web"].timeout == 5


def test_config_show_lists_servers_with_their_environment_values_hidden(config_dir):
    (config_dir / "config.toml").write_text(
        '[mcp_servers.github]\ncommand = "npx"\nargs = ["-y", "server-github"]\n'
        'env = { GITHUB_TOKEN = "ghp_supersecretvalue123" }\n', encoding="utf-8")
    shown = run_salon("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "[mcp_servers.github]" in shown.stdout and 'command = "npx"' in shown.stdout
    assert "GITHUB_TOKEN" in shown.stdout
    assert "ghp_supersecretvalue123" not in shown.stdout + shown.stderr


def test_import_mcp_adds_the_servers_privately_and_says_what_it_left_out(config_dir, tmp_path):
    (config_dir / "config.toml").write_text('theme = "nord"\n' + GOOD, encoding="utf-8")
    source = tmp_path / "claude_desktop_config.json"
    source.write_text(json.dumps({"mcpServers": {
        "time": {"command": "other"},
        "git": {"command": "uvx", "args": ["mcp-server-git", "--repository", "/src"]},
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_x"}},
        "remote": {"url": "https://mcp.example.com/mcp"},
        "old sse": {"type": "sse", "url": "https://old.example.com/sse"},
        "my.files": {"command": "files-server"},
        "broken": {"args": ["no command"]},
    }}), encoding="utf-8")
    done = run_salon("config", "import-mcp", str(source))
    assert done.returncode == 0, done.stderr
    assert "added to" in done.stdout and "git, github, remote, my-files" in done.stdout
    assert "time: already in config.toml; left as it is" in done.stderr
    assert "old sse: Salon speaks streamable HTTP and stdio" in done.stderr
    assert "'my.files' is imported as 'my-files'" in done.stderr
    assert "broken: neither a 'command' nor an http(s) 'url'; left out" in done.stderr
    path = config_dir / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = load_config(path)
    assert config.warnings == () and config.theme == "nord"
    assert config.mcp_servers["time"].command == "uvx"
    assert config.mcp_servers["git"].args == ("mcp-server-git", "--repository", "/src")
    assert config.mcp_servers["github"].env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_x"}
    assert config.mcp_servers["remote"].url == "https://mcp.example.com/mcp"


@pytest.mark.parametrize(("content", "says"), [
    (None, "no such file"),
    ('{"mcpServers": {"a": }', ":1: not JSON"),
    ('{"servers_of_mine": {}}', 'no "mcpServers" object'),
])
def test_import_mcp_refuses_a_file_it_cannot_use_and_writes_nothing(config_dir, tmp_path, content, says):
    source = tmp_path / "mcp.json"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    done = run_salon("config", "import-mcp", str(source))
    assert done.returncode == 1
    assert says in done.stderr and str(source) in done.stderr
    assert not (config_dir / "config.toml").exists()
