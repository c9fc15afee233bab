"""The API as an import string for uvicorn's worker processes (`serve --workers N`)."""

from __future__ import annotations

from litestar import Litestar

from app.config import Config
from app.http.factory import create_app
from app.logs import configure_logging


def app_from_environ() -> Litestar:
    """Each worker is a fresh interpreter: it reads its config and sets up logging itself."""
    config = Config.from_environ()
    configure_logging(config.log_format, config.log_level)
    return create_app(config)
