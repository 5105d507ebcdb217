"""Settings from the process environment: the one place that reads `os.environ`; everything
below is handed its settings."""

from __future__ import annotations

import os
import sys

from gateway.settings import Settings, SettingsError


def settings_from_env() -> Settings:
    """The settings, or exit 2 saying what is wrong with the environment."""
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
