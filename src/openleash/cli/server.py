"""``openleash start``: run the server with its workers."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import click
import uvicorn

from openleash.bootstrap import open_services
from openleash.cli.common import config_option, data_dir_option, fails_cleanly, settings_for

#: Seconds open connections (event streams) get to finish when the server stops.
GRACEFUL_SHUTDOWN_SECONDS = 3


async def _prepare(settings_dir: Path | None, config_path: Path | None) -> None:
    # Migrations and the first key are made once, before workers start, so they never race.
    services = await open_services(settings_for(settings_dir, config_path))
    await services.store.close()


@click.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8787).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the store.",
)
@data_dir_option
@config_option
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@fails_cleanly
def start(
    host: str | None,
    port: int | None,
    workers: int,
    data_dir: Path | None,
    config_path: Path | None,
    log_level: str,
) -> None:
    """Start the OpenLeash server (SQLite in ./data unless configured otherwise)."""
    settings = settings_for(data_dir, config_path).with_overrides(host=host, port=port)
    asyncio.run(_prepare(data_dir, config_path))
    # Workers rebuild the settings from the environment.
    os.environ["OPENLEASH_DATA_DIR"] = str(settings.data_dir.resolve())
    # Every worker counts into these files; /metrics on any worker adds them up.
    metrics_dir = settings.data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    if config_path is not None:
        os.environ["OPENLEASH_CONFIG"] = str(config_path.resolve())
    click.echo(
        f"OpenLeash listening on http://{settings.host}:{settings.port} "
        f"(data: {settings.data_dir}, workers: {workers})"
    )
    uvicorn.run(
        "openleash.api.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=log_level,
        http="openleash.api.protocol:HttpProtocol",  # one write per response
        proxy_headers=False,  # never take the client address from forwarded headers
        server_header=False,
        access_log=False,
        # Open event streams (owners' live views) end at shutdown instead of holding it up.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
