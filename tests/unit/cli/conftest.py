"""Every command runs in a fresh folder with its own SQLite data folder."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result

from openleash.bootstrap import Services, open_services
from openleash.cli.main import cli
from openleash.config import load_settings

T = TypeVar("T")


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, store: bool = True) -> Result:
        extra = ["--data-dir", str(self.data_dir)] if store else []
        return self.runner.invoke(cli, [*args, *extra], input=input, catch_exceptions=False)

    def query(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Look at the store the commands wrote, through the service layer."""

        async def main() -> T:
            services = await open_services(load_settings(data_dir=self.data_dir, env={}))
            try:
                return await work(services)
            finally:
                await services.store.close()

        return asyncio.run(main())


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)
    for name in (
        "OPENLEASH_DATA_DIR",
        "OPENLEASH_CONFIG",
        "OPENLEASH_DATABASE_URL",
        "OPENLEASH_ADMIN_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    return Cli(tmp_path)


def env_file(path: Path) -> dict[str, Any]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return dict(pairs)
