"""Command line: a thin click layer over the library (the composition root).

Each command group lives in its own module with a ``register(group)`` function; modules whose
extras are missing still register, and fail with the pip command only when run.
"""

from __future__ import annotations

import importlib
import sys

import click

from .._core.errors import EntronasError

#: modules that contribute commands, in help order
COMMAND_MODULES = ("core", "train", "search", "export", "oneshot", "bench")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="entronas")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """entronas: find the most accurate network that fits a microcontroller."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:  # module not written yet / optional
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    _mod.register(cli)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; our errors become one line on stderr and exit code 2."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rc = cli.main(args=argv, prog_name="entronas", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:  # one line, naming the command's --help, not a usage block
        cmd = exc.ctx.command_path if exc.ctx is not None else "entronas"
        click.echo(f"error: {exc.format_message().rstrip('.')}; see `{cmd} --help`", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (EntronasError, OSError) as exc:  # OSError: a path that cannot be read or written
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
