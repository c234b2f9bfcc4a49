"""``openleash testvectors``: the cross-language test vectors, computed from their inputs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from openleash.cli.common import fails_cleanly
from openleash.crypto import compute_testvectors, default_inputs, render_testvectors
from openleash.domain.jsonvalue import JsonObject

#: What the vectors are computed from; every other field of a vectors file is derived.
INPUT_KEYS = ("action", "private_key_b64", "signing_input", "paseto_claims")


def _read_inputs(path: Path) -> JsonObject:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--input") from exc
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} must hold a JSON object", param_hint="--input")
    missing = [key for key in INPUT_KEYS if key not in data]
    if missing:
        raise click.BadParameter(
            f"{path} lacks {', '.join(missing)} (needs: {', '.join(INPUT_KEYS)})",
            param_hint="--input",
        )
    return {key: data[key] for key in INPUT_KEYS}


@click.command("testvectors")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON with action, private_key_b64, signing_input and paseto_claims (a vectors file "
    "works; its derived fields are ignored). Default: the official inputs.",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the vectors to this file instead of printing them.",
)
@fails_cleanly
def testvectors(input_path: Path | None, output_path: Path | None) -> None:
    """Print the test vectors: canonical JSON, action hash, body hash, signing input,
    signature and PASETO token.

    With the default inputs the output equals the official vectors file byte for byte, so
    any implementation can be checked against it.
    """
    inputs = _read_inputs(input_path) if input_path else default_inputs()
    try:
        text = render_testvectors(compute_testvectors(inputs))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise click.ClickException(f"cannot compute vectors from these inputs: {exc}") from exc
    if output_path is None:
        click.echo(text)
    else:
        output_path.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output_path}")
