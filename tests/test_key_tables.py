"""One check of keys for every file format (salon.config.schema): a misspelt key is named with the key it was
probably meant to be and the line it is on, whichever file it is in; what it costs depends on whose file it is."""

from __future__ import annotations

from pathlib import Path

from salon.agents.definition import load_agents
from salon.agents.hub import read_metadata
from salon.config.read import load_config
from salon.tui.themes import load_themes


def test_a_misspelt_key_in_an_agent_file_refuses_the_file_and_names_the_key_meant(tmp_path: Path) -> None:
    path = tmp_path / "sage.toml"
    path.write_text('name = "Sage"\n\nmodle = "ollama/llama3.2"\n', encoding="utf-8")

    catalog = load_agents([tmp_path])

    assert list(catalog.agents) == []
    (error,) = catalog.errors
    assert str(error).startswith(f"{path}:3: unknown key 'modle' (did you mean 'model'?) (expected one of: name, ")


def test_a_misspelt_key_in_a_theme_refuses_the_theme_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "dusk.toml"
    path.write_text('primary = "#D9A35B"\naccnet = "#D9A35B"\n', encoding="utf-8")

    catalog = load_themes([tmp_path])

    (error,) = catalog.errors
    assert str(error).startswith(f"{path}:2: unknown key 'accnet' (did you mean 'accent'?) (a theme sets: ")


def test_a_misspelt_key_in_an_mcp_server_table_drops_that_server_with_a_warning(config_dir: Path) -> None:
    path = config_dir / "config.toml"
    path.write_text('[mcp_servers.time]\ncommand = "uvx"\n\n[mcp_servers.web]\nurl = "http://127.0.0.1:9/mcp"\n'
                    'timout = 5\n', encoding="utf-8")

    config = load_config(path)

    assert set(config.mcp_servers) == {"time"}
    (warning,) = config.warnings
    assert warning.startswith(f"{path}:6: [mcp_servers.web] unknown key 'timout' (did you mean 'timeout'?)")


def test_an_unknown_setting_in_the_users_config_is_ignored_and_salon_still_starts(config_dir: Path) -> None:
    path = config_dir / "config.toml"
    path.write_text('theme = "nord"\nfolow = false\n', encoding="utf-8")

    config = load_config(path)

    assert config.theme == "nord"
    assert config.warnings == (f"{path}: unknown setting 'folow' ignored",)


def test_a_field_the_hub_uses_and_salon_does_not_is_kept_out_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "helper"
    folder.mkdir()
    (folder / "metadata.json").write_text(
        '{"name": "helper", "category": "agent", "icon": "h.png",\n'
        ' "details": {"agent": {"defaults": {"model": "llama3.2", "model_provider": "ollama"}}}}\n',
        encoding="utf-8")

    data, notes, _ = read_metadata(folder / "metadata.json")

    assert data["model"] == "ollama/llama3.2"
    assert "kept out (Salon has no use for them): icon" in notes
