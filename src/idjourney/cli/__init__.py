"""The ``idjourney`` command line.

Each sub-command lives in its own module and is imported only when it is run,
so ``idjourney --help`` stays fast.  Register a new command in ``_COMMANDS``.
"""

from __future__ import annotations

import importlib

import click

from idjourney import __version__, tune_allocator

# name -> "module:attribute" of a click command or group
_COMMANDS: dict[str, str] = {
    "simulate": "idjourney.cli.simulate:simulate",
    "run": "idjourney.cli.run:run",
    "indicator": "idjourney.cli.indicator:indicator",
    "validate": "idjourney.cli.validate:validate",
    "fit": "idjourney.cli.fit:fit",
    "mse": "idjourney.cli.mse:mse",
    "link": "idjourney.cli.link:link",
    "harmonize": "idjourney.cli.harmonize:harmonize",
    "simstudy": "idjourney.cli.simstudy:simstudy",
    "calibrate": "idjourney.cli.calibrate:calibrate",
}


class _LazyGroup(click.Group):
    """A click group that imports each sub-command on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="idjourney")
def main() -> None:
    """idjourney: how long unidentified victims stay unidentified.

    Works on metadata only, and ships a synthetic world generator so that
    every analysis can be run without real data.
    """
    # large arrays reuse heap memory instead of fresh kernel-zeroed pages (results unchanged;
    # the process keeps the memory it frees): see idjourney._allocator
    tune_allocator()
