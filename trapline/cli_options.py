"""Options shared by the ``trapline`` commands."""

from __future__ import annotations

from pathlib import Path

import click

DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Data directory (default: $TRAPLINE_DATA_DIR, else the configuration's data_dir, "
         "else ./trapline-data).")
CONFIG_OPTION = click.option(
    "--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Configuration file (default: $TRAPLINE_CONFIG, else ./trapline.toml if present).")
