"""What every command shares: settings from the current folder, the store, error exits."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from openleash.bootstrap import Services, open_services, require_persistent_store
from openleash.config import Settings, load_settings
from openleash.domain.errors import OpenLeashError, PolicyError

P = ParamSpec("P")
T = TypeVar("T")

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data folder (default: ./data, or OPENLEASH_DATA_DIR).",
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (default: ./config.yaml, or OPENLEASH_CONFIG).",
)


def settings_for(data_dir: Path | None, config_path: Path | None) -> Settings:
    return load_settings(config_path=config_path, data_dir=data_dir)


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Open the store, run ``work``, close the store. Refused (VALIDATION_ERROR) when the
    settings name the in-memory store: the command would act on an empty store of its own,
    gone when it exits."""
    require_persistent_store(settings, "This command")

    async def main() -> T:
        services = await open_services(settings)
        try:
            return await work(services)
        finally:
            await services.store.close()

    return asyncio.run(main())


def fails_cleanly(command: Callable[P, T]) -> Callable[P, T]:
    """Report an OpenLeashError as a readable message and exit 1 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except PolicyError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for issue in exc.issues:
                line = f" (line {issue['line']})" if issue.get("line") else ""
                click.echo(
                    f"  - {issue.get('path') or '(top)'}: {issue['message']}{line}", err=True
                )
            sys.exit(1)
        except OpenLeashError as exc:
            click.echo(f"error: {exc.message} [{exc.code}]", err=True)
            sys.exit(1)

    return wrapper


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
