"""Saving settings: atomic, mode 0600, nothing of the user's lost; and every broken config read without a crash."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from pathlib import Path

import pytest

from salon.config.read import Config, load_config
from salon.config.write import (
    SETTINGS,
    commented_defaults,
    save_keymap,
    save_setting,
    update_config,
    write_private_file,
)
from salon.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def config_file(config_dir: Path) -> Path:
    return config_dir / "config.toml"


def test_a_theme_saved_is_the_theme_load_config_reads_back(config_file):
    saved = save_setting("theme", "salon-light")
    assert saved.path == config_file
    assert saved.config.theme == "salon-light"
    assert load_config().theme == "salon-light"
    assert load_config().warnings == ()


def test_the_file_is_created_mode_0600_in_a_0700_folder_whatever_the_umask(isolated_home, monkeypatch):
    folder = isolated_home / "fresh" / "salon"
    monkeypatch.setenv("SALON_CONFIG_DIR", str(folder))
    previous = os.umask(0)
    try:
        save_setting("default_agent", "socrates")
    finally:
        os.umask(previous)
    assert mode(folder / "config.toml") == 0o600
    assert mode(folder) == 0o700
    assert load_config().default_agent == "socrates"


def test_a_world_readable_config_becomes_0600_when_salon_saves_it(config_file):
    config_file.write_text('theme = "nord"\n')
    os.chmod(config_file, 0o644)
    save_setting("show_thinking", True)
    assert mode(config_file) == 0o600
    assert load_config().show_thinking is True and load_config().theme == "nord"


def test_keys_salon_does_not_touch_are_kept(config_file):
    config_file.write_text(
        'colour = "teal"\n'
        'theme = "nord"\n'
        "[ollama]\nhost = \"gpu-box:11434\"\nnum_gpu = 2\n"
        '[providers.openai]\napi_key_env = "OPENAI_API_KEY"\nmodels = ["gpt-4o-mini"]\n'
        "[plugins.weather]\ncity = \"Lyon\"\nunits = [\"metric\"]\n"
    )
    save_setting("theme", "salon-dark")
    document = tomllib.loads(config_file.read_text())
    assert document == {
        "colour": "teal",
        "theme": "salon-dark",
        "ollama": {"host": "gpu-box:11434", "num_gpu": 2},
        "providers": {"openai": {"api_key_env": "OPENAI_API_KEY", "models": ["gpt-4o-mini"]}},
        "plugins": {"weather": {"city": "Lyon", "units": ["metric"]}},
    }


def test_dotted_and_nested_changes_round_trip_and_none_restores_the_default(config_file, tmp_path):
    update_config({"ollama.read_timeout": 300, "data_dir": tmp_path / "chats", "follow": False})
    update_config({"ollama": {"host": "http://gpu-box:11434"}, "providers": {"groq": {"api_key_env": "GROQ_KEY"}}})
    config = load_config()
    assert (config.read_timeout, config.ollama_host, config.follow) == (300, "http://gpu-box:11434", False)
    assert config.data_dir == tmp_path / "chats"
    assert config.providers["groq"].api_key_env == "GROQ_KEY"

    update_config({"ollama.read_timeout": None, "ollama.host": None, "follow": None})
    config = load_config()
    assert (config.read_timeout, config.ollama_host, config.follow) == (Config().read_timeout, None, True)
    assert "ollama" not in tomllib.loads(config_file.read_text()), "an emptied table is removed"
    assert config.warnings == ()


def test_keymap_entries_with_dotted_ids_save_as_one_flat_table(config_file):
    config_file.write_text('[keymap]\nlog.copy_message = "ctrl+y"\nhelp = "f1"\n')
    save_keymap("log.copy_message", ["ctrl+c", "y"])
    save_keymap("composer.edit_last", "ctrl+up")
    config = load_config()
    assert dict(config.keymap) == {"log.copy_message": "ctrl+c,y", "help": "f1", "composer.edit_last": "ctrl+up"}
    assert tomllib.loads(config_file.read_text())["keymap"]["log.copy_message"] == ["ctrl+c", "y"]
    save_keymap("log.copy_message", None)
    assert "log.copy_message" not in load_config().keymap


def test_a_change_of_the_wrong_type_is_refused_and_nothing_is_written(config_file):
    config_file.write_text('theme = "nord"\n')
    before = config_file.read_bytes()
    with pytest.raises(ConfigError, match=r"'follow' should be bool.*nothing was saved"):
        save_setting("follow", "yes")
    with pytest.raises(ConfigError, match=r"'ollama.read_timeout' should be a number of seconds above 0"):
        save_setting("ollama.read_timeout", 0)
    assert config_file.read_bytes() == before


def test_a_config_that_is_not_valid_toml_is_never_overwritten(config_file):
    config_file.write_text('theme = "nord"\n[ollama\nhost = "x"\n')
    before = config_file.read_bytes()
    with pytest.raises(ConfigError) as raised:
        save_setting("theme", "salon-light")
    assert str(raised.value).startswith(f"{config_file}: ") and "nothing was saved" in str(raised.value)
    assert config_file.read_bytes() == before
    assert [p.name for p in config_file.parent.iterdir()] == ["config.toml"]


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(config_file):
    config_file.write_text('theme = "nord"\n')
    os.chmod(config_file.parent, 0o500)
    try:
        if os.access(config_file.parent, os.W_OK):
            pytest.skip("running as a user that can write to a read-only folder (root)")
        with pytest.raises(ConfigError, match="cannot save settings"):
            save_setting("theme", "salon-light")
    finally:
        os.chmod(config_file.parent, 0o700)
    assert config_file.read_text() == 'theme = "nord"\n'
    assert [p.name for p in config_file.parent.iterdir()] == ["config.toml"]


def test_a_replace_that_fails_cleans_up_its_temporary_file(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    target = folder / "config.toml"
    target.mkdir()  # os.replace of a file onto a directory fails on every platform
    with pytest.raises(ConfigError, match="cannot save settings"):
        write_private_file(target, 'theme = "x"\n')
    assert [p.name for p in folder.iterdir()] == ["config.toml"]
    assert target.is_dir()


def test_the_text_of_a_commented_file_is_kept_as_a_private_backup(config_file):
    original = '# my settings\ntheme = "nord"  # the blue one\n'
    config_file.write_text(original)
    saved = save_setting("theme", "salon-dark")
    assert saved.backup == config_file.with_name("config.toml.bak")
    assert saved.backup.read_text() == original
    assert mode(saved.backup) == 0o600
    assert load_config().theme == "salon-dark"


def test_saving_a_value_the_file_already_has_leaves_the_file_alone(config_file):
    original = '# my settings\ntheme = "nord"\n'
    config_file.write_text(original)
    saved = save_setting("theme", "nord")
    assert saved.backup is None
    assert config_file.read_text() == original


def test_a_hash_inside_a_string_is_not_a_comment(config_file):
    config_file.write_text('theme = "nord"\n[providers.x]\napi_base = "http://h/#frag"\n')
    assert save_setting("theme", "salon-dark").backup is None


def test_a_symlinked_config_is_written_through_and_the_link_kept(config_dir, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "salon.toml"
    real.write_text('theme = "nord"\n')
    link = config_dir / "config.toml"
    link.symlink_to(real)
    save_setting("theme", "salon-light")
    assert link.is_symlink()
    assert tomllib.loads(real.read_text())["theme"] == "salon-light"
    assert mode(real) == 0o600


def test_every_top_level_setting_is_described_once_for_screens_and_docs():
    described = {s.attribute for s in SETTINGS}
    # Tables of their own (providers, keymap, gguf folders, MCP servers, remembered approvals), documented in
    # docs/configuration.md but not single values on the settings screen.
    fields = {f.name for f in dataclasses.fields(Config)} - {"providers", "keymap", "gguf_folders", "mcp_servers",
                                                             "approvals", "source", "warnings"}
    assert described == fields
    defaults = Config()
    for item in SETTINGS:
        if item.default is not None:
            assert getattr(defaults, item.attribute) == item.default, item.key


def test_every_described_setting_is_one_config_py_reads(config_file):
    # A wrong type for each key must draw config.py's warning for that key: the names in SETTINGS are real.
    for item in SETTINGS:
        *tables, name = item.key.split(".")
        body = f"{name} = [1]\n"
        config_file.write_text(f"[{tables[0]}]\n{body}" if tables else body)
        assert any(f"'{item.key}'" in w for w in load_config().warnings), item.key


def test_the_commented_defaults_are_valid_toml_that_changes_nothing(config_file):
    text = commented_defaults()
    assert tomllib.loads(text) == {}
    for item in SETTINGS:
        assert f"# {item.key.split('.')[-1]} = " in text
    config_file.write_text(text)
    assert load_config() == Config(source=config_file)


# --- a broken config.toml: defaults and a warning naming the file, never a crash ---------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ('theme = "nord"\n[ollama\n', "using default settings"),
    ('follow = "yes"\n', "'follow' should be bool; ignored"),
    ("theme = 3\n", "'theme' should be str; ignored"),
    ("colour = 1\n", "unknown setting 'colour' ignored"),
    ('ollama = "gpu-box"\n', "[ollama] should be a table; ignored"),
    ("[ollama]\nread_timeout = -5\n", "'ollama.read_timeout' should be a number of seconds above 0"),
    ("[ollama]\nconnect_timeout = true\n", "'ollama.connect_timeout' should be int; ignored"),
    ('providers = "openai"\n', "[providers] should be a table of [providers.NAME] tables; ignored"),
    ('[providers]\nopenai = "sk-x"\n', "[providers.openai] should be a table; ignored"),
    ("[providers.openai]\nheaders = 3\n", "'providers.openai.headers' should be dict; ignored"),
    ('keymap = "ctrl+n"\n', "[keymap] should be a table"),
    ("[keymap]\nhelp = 3\n", "'keymap.help' should be keys like \"ctrl+n\""),
    ('[keymap]\nhelp = ""\n', "'keymap.help' should be keys like \"ctrl+n\""),
    ('data_dir = ""\n', "'data_dir' is empty; using the default data folder"),
])
def test_a_broken_setting_is_named_with_the_file_and_the_rest_still_load(config_file, text, expected):
    config_file.write_text(text + 'default_agent = "socrates"\n' if "[" not in text else
                           'default_agent = "socrates"\n' + text)
    config = load_config()
    assert any(w.startswith(f"{config_file}: ") and expected in w for w in config.warnings), config.warnings
    if "using default settings" not in expected:
        assert config.default_agent == "socrates"


def test_a_config_that_is_not_utf8_yields_defaults_and_a_warning(config_file):
    config_file.write_bytes(b'theme = "caf\xe9"\n')
    config = load_config()
    assert config.theme == Config().theme
    (warning,) = config.warnings
    assert warning.startswith(f"{config_file}: ") and "using default settings" in warning


def test_a_folder_where_config_toml_should_be_yields_defaults_and_a_warning(config_file):
    config_file.mkdir()
    config = load_config()
    assert config == Config(source=config_file, warnings=config.warnings)
    (warning,) = config.warnings
    assert warning.startswith(f"{config_file}: ")


def test_a_missing_config_is_silent_defaults(config_file):
    assert load_config() == Config(source=config_file)


def test_the_configuration_docs_name_every_setting_variable_and_swallowed_key():
    from salon.config.keymap import SWALLOWED_KEYS
    from salon.tui.themes import SALON_VARIABLES
    from tests.conftest import ROOT

    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [f"setting {s.key}" for s in SETTINGS if f"`{s.key}`" not in docs]
    missing += [f"variable {name}" for name in SALON_VARIABLES if f"`{name}`" not in docs]
    missing += [f"key {key} ({entry.where})" for entry in SWALLOWED_KEYS for key in entry.keys
                if f"`{key.replace('<any>', '<any key>')}`" not in docs]
    missing += [f"theme {path.stem}" for path in (ROOT / "themes").glob("*.toml") if f"`{path.stem}`" not in docs]
    assert missing == []
