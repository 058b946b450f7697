"""`cataract`: one command for the whole life cycle, a subcommand per step.

The subcommands live by job: data.py (synth, audit), training.py (train, evaluate,
operating-point), repository.py (export, rollback), server.py (serve), screening.py
(predict, dashboard, gateway), users.py (the doors' credentials file) and bench.py (the
benchmarks). Every flag comes from a settings dataclass (options.py, benchmarks/configs.py,
train_jax/training/config.py; commands.py declares the commands from them), so a value
out of its limits is refused in one line naming the flag.

`--json` means one thing everywhere: print JSON to standard output (`cataract predict
--json`, one object per photo). Writing results to a file is `--json-out FILE` (audit and
every benchmark); their former `--json FILE` still writes the file, and warns.

Each subcommand imports its heavy modules only when it runs, so `cataract --help` is
instant. Errors a user can fix print as one line (exit code 2); Ctrl-C exits with 130.
"""

from __future__ import annotations

import logging
import os
import sys

from cataract_cli import bench, data, repository, screening, server, training, users
from cataract_cli.commands import CommandParser, declare
from cataract_cli.options import GlobalSettings
from train_jax.errors import UserError
from train_jax.settings import from_arguments


def _quiet_frameworks() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for noisy in ("absl", "jax._src", "orbax", "tensorflow", "h5py", "faiss"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def build_parser() -> CommandParser:
    parser = CommandParser(
        prog="cataract",
        description="Cataract screening on eye photos: train a JAX/Flax VGG16, evaluate it, serve it with Triton.",
    )
    declare(parser, None, [GlobalSettings])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In the order of `cataract --help`: a product's life cycle, then the benchmarks.
    for job in (data, training, repository, server, screening, users, bench):
        job.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_frameworks()
    logging.basicConfig(
        level=logging.DEBUG if from_arguments(GlobalSettings, args).verbose else logging.INFO,
        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr,
    )
    from cataract_contract import ImageError, ModelCardError
    from client.errors import CataractClientError
    from doors.access import AccessError
    from serving.runtime import ServerError

    try:
        return args.handler(args)
    except (UserError, ImageError, ModelCardError, CataractClientError, ServerError, AccessError) as exc:
        print(f"cataract {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cataract {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cataract predict ... | head`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
