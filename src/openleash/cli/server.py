"""``openleash start``: run the server with its workers."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
from pathlib import Path
from typing import Any

import click
import uvicorn
from uvicorn.supervisors import Multiprocess

from openleash.bootstrap import open_services, require_persistent_store, store_is_transient
from openleash.cli.common import config_option, data_dir_option, fails_cleanly, settings_for
from openleash.config import ConnectionLimits, Settings


class EdgeConfig(uvicorn.Config):
    """uvicorn's configuration carrying the connection limits that the protocol
    (``openleash.api.protocol.HttpProtocol``) reads as ``config.limits``; a module-level
    class, so it reaches spawned worker processes."""

    def __init__(self, app: str, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits


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
    if workers > 1:
        # Each worker would have a store of its own: a nonce used with one could be used again
        # with another, and limits would count each worker's actions apart.
        require_persistent_store(settings, "--workers above 1")
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
    # Workers read their settings again: the address given here (for the Host check and the
    # default public URL) must be theirs too.
    os.environ["OPENLEASH_BIND_ADDRESS"] = f"[{settings.host}]:{settings.port}"
    click.echo(
        f"OpenLeash listening on http://{settings.host}:{settings.port} "
        f"(public URL: {settings.base_url}, data: {settings.data_dir}, workers: {workers})"
    )
    for warning in startup_warnings(settings):
        click.echo(f"WARNING: {warning}", err=True)
    serve(server_config(settings, workers, log_level))


def startup_warnings(settings: Settings) -> list[str]:
    """What an operator must know before exposing this server."""
    found = []
    if store_is_transient(settings):
        found.append(
            "the store is in memory (store.url: memory:), for tests and demos: everything "
            "(owners, agents, policies, the audit log) is gone when the server stops"
        )
    if settings.admin_mode in ("localhost", "localhost_or_token"):
        found.append(
            "admin access (/v1/admin) is open WITHOUT A TOKEN to any process on this machine "
            f"(admin.mode: {settings.admin_mode}); set admin.mode: token and an admin token "
            "if other users or containers share it"
        )
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < settings.max_connections + 64:
        found.append(
            f"the open-file limit ({soft}) is below server.max_connections "
            f"({settings.max_connections}) plus room for the store: raise it (ulimit -n) or "
            "lower server.max_connections"
        )
    return found


def server_config(settings: Settings, workers: int, log_level: str) -> EdgeConfig:
    return EdgeConfig(
        "openleash.api.app:create_app_from_env",
        limits=settings.connection_limits,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=log_level,
        http="openleash.api.protocol:HttpProtocol",  # bounded, one write per response
        # Forwarded headers are read by the application, from server.trusted_proxies only.
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        access_log=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        backlog=settings.backlog,
        # Open event streams (owners' live views) end at shutdown instead of holding it up.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def serve(config: EdgeConfig) -> None:
    """What ``uvicorn.run`` does, for a configuration built here."""
    server = uvicorn.Server(config)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server.run()
    if not server.started:
        raise SystemExit(3)
