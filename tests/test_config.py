"""Settings: where Ollama is, and bad files reported without a crash."""

from __future__ import annotations

import pytest

from salon.config.read import DEFAULT_OLLAMA_HOST, Config, load_config, parse_host


@pytest.mark.parametrize(("given", "url"), [
    ("127.0.0.1:11434", "http://127.0.0.1:11434"),
    ("localhost", "http://localhost:11434"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),
    ("https://ollama.example.com/", "https://ollama.example.com:11434"),
    ("http://gpu-box:9000", "http://gpu-box:9000"),
    ("[::1]:11434", "http://[::1]:11434"),
])
def test_hosts_are_normalised_as_ollama_accepts_them(given, url):
    assert parse_host(given, "host").url == url


def test_config_host_beats_OLLAMA_HOST_which_beats_the_default(monkeypatch, config_dir):
    assert Config().resolved_ollama_host() == DEFAULT_OLLAMA_HOST
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11434")
    assert Config().resolved_ollama_host() == "http://gpu-box:11434"
    (config_dir / "config.toml").write_text('[ollama]\nhost = "other:1234"\nread_timeout = 30\n')
    config = load_config()
    assert config.resolved_ollama_host() == "http://other:1234"
    assert config.read_timeout == 30


def test_a_broken_config_file_yields_defaults_and_a_warning_naming_it(config_dir):
    path = config_dir / "config.toml"
    path.write_text('theme = "nord"\n[ollama\n')
    config = load_config()
    assert config.theme == Config().theme
    (warning,) = config.warnings
    assert warning.startswith(f"{path}: ") and "using default settings" in warning


def test_unknown_and_ill_typed_settings_are_reported_and_the_rest_kept(config_dir):
    path = config_dir / "config.toml"
    path.write_text('default_agent = "socrates"\nfollow = "yes"\ncolour = 1\n[ollama]\nread_timeout = "slow"\n')
    config = load_config()
    assert config.default_agent == "socrates"
    assert config.follow is True
    assert config.read_timeout == Config().read_timeout
    assert any("'follow' should be bool" in w for w in config.warnings)
    assert any("unknown setting 'colour'" in w for w in config.warnings)
    assert any("'ollama.read_timeout' should be int" in w for w in config.warnings)
