"""The ``oncoplan`` command line: one thin command per use case.

Example:
    $ oncoplan datasets
    $ oncoplan train survset:colon --out model/
    $ oncoplan train-effects survset:colon --out effect_model/
    $ oncoplan recommend effect_model/ patients.csv
    $ oncoplan tune survset:GBSG2 --trials 20 --out tuned/
    $ oncoplan evaluate model/ survset:colon
    $ oncoplan predict model/ patients.csv --horizons 365,1825
    $ oncoplan demo
"""

from __future__ import annotations

import logging
import os

import typer

from oncoplan import __version__
from oncoplan.cli.datasets import datasets
from oncoplan.cli.demo import demo
from oncoplan.cli.doctor import doctor
from oncoplan.cli.evaluate import evaluate
from oncoplan.cli.predict import predict
from oncoplan.cli.recommend import recommend
from oncoplan.cli.report import report
from oncoplan.cli.train import train
from oncoplan.cli.train_effects import train_effects
from oncoplan.cli.tune import tune

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="oncoplan: personalized cancer treatment planning with deep survival models.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oncoplan {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """oncoplan command line."""
    if debug:
        os.environ["ONCOPLAN_DEBUG"] = "1"
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


app.command()(datasets)
app.command()(train)
app.command(name="train-effects")(train_effects)
app.command()(tune)
app.command()(evaluate)
app.command()(predict)
app.command()(recommend)
app.command()(report)
app.command()(demo)
app.command()(doctor)

if __name__ == "__main__":  # pragma: no cover
    app()
