"""The procrastinate app of the worker: `procrastinate --app=app.worker.procrastinate_app worker`.

Importing it is cheap: the database URL (which may start the embedded PostgreSQL) is resolved
only when procrastinate opens the app. The Klaviyo module's tasks are registered only when the
module is enabled (KLAVIYO_MODULE_ENABLED).
"""

from __future__ import annotations

from typing import Any

import procrastinate
from procrastinate import PsycopgConnector
from psycopg_pool import AsyncConnectionPool

from app.config import Config
from app.logs import configure_logging


class LazyPsycopgConnector(PsycopgConnector):
    """A PsycopgConnector whose database URL is worked out when it is first opened."""

    def __init__(self, config: Config, **pool_args: Any) -> None:
        super().__init__(**pool_args)
        self._config = config

    def _resolve(self) -> None:
        if "conninfo" not in self._pool_args:
            from app.db.target import resolve_database_url

            self._pool_args["conninfo"] = resolve_database_url(self._config)

    async def open_async(self, pool: AsyncConnectionPool | None = None) -> None:
        if pool is None:
            self._resolve()
        await super().open_async(pool)

    def get_sync_connector(self) -> Any:
        self._resolve()
        return super().get_sync_connector()


def build_app(config: Config) -> procrastinate.App:
    configure_logging(config.log_format, config.log_level)
    connector = LazyPsycopgConnector(
        config,
        min_size=1,
        # Every concurrent job may hold a connection, plus the worker's own listen/heartbeat.
        max_size=max(config.db_pool_max, config.worker_concurrency * 2 + 2),
        kwargs={"application_name": "klaviyo-sync-worker"},
    )
    app = procrastinate.App(
        connector=connector,
        worker_defaults={
            "concurrency": config.worker_concurrency,
            # Finished ticks are deleted at once; the prune task catches the rest.
            "delete_jobs": "successful",
        },
    )
    if config.klaviyo_module_enabled:
        from app.klaviyo.tasks import build_blueprint

        app.add_tasks_from(build_blueprint(config), namespace="klaviyo")
        from app.klaviyo.webhooks.jobs import WEBHOOK_TASK_NAMESPACE, build_webhook_blueprint

        app.add_tasks_from(build_webhook_blueprint(config), namespace=WEBHOOK_TASK_NAMESPACE)
    return app


procrastinate_app = build_app(Config.from_environ())
