"""Every path Salon reads or writes, in one place.

``SALON_CONFIG_DIR`` and ``SALON_DATA_DIR`` override the platform directories, so tests and portable installs
never touch a user's real files.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

APP_NAME = "salon"
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def config_dir() -> Path:
    if override := os.environ.get("SALON_CONFIG_DIR"):
        return Path(override)
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    if override := os.environ.get("SALON_DATA_DIR"):
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def config_file() -> Path:
    return config_dir() / "config.toml"


def user_agents_dir() -> Path:
    return config_dir() / "agents"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def _bundled(name: str) -> Path:
    # A wheel carries these folders inside the package; an editable install leaves them at the source root.
    packaged = Path(str(resources.files("salon"))) / "_bundled" / name
    if packaged.is_dir():
        return packaged
    return _SOURCE_ROOT / name


def bundled_agents_dir() -> Path:
    return _bundled("agents")


def bundled_themes_dir() -> Path:
    return _bundled("themes")
