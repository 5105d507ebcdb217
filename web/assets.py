"""Pinned third-party assets, checked by a test against the files in web/static."""

from typing import Final

HTMX_VERSION: Final = "2.0.11"
HTMX_SHA256: Final = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
