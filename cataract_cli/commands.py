"""How a subcommand is declared: by the settings classes it takes. Their fields become its
flags (train_jax/settings.py), and its handler is called with one object of each class,
built from the parsed flags (so their checks run, and a value out of its limits is a
one-line error naming the flag). No command declares a flag by hand."""

from __future__ import annotations

import argparse
from typing import Callable, Sequence, Union

from train_jax.settings import add_arguments, from_arguments

# A settings class, or (title, settings class) for flags shown under a heading of their own.
Declared = Union[type, tuple[str, type]]


def add_command(commands, name: str, handler: Callable[..., int], settings: Sequence[Declared] = (),
                **parser_options) -> argparse.ArgumentParser:
    """`cataract NAME`: `handler(*settings objects)` runs it and returns its exit code."""
    parser = commands.add_parser(name, **parser_options)
    declare(parser, handler, settings)
    return parser


def declare(parser: argparse.ArgumentParser, handler: Callable[..., int] | None,
            settings: Sequence[Declared]) -> None:
    """The parser's flags from `settings`; `handler`, where given, runs with them built."""
    classes = []
    for entry in settings:
        title, settings_class = entry if isinstance(entry, tuple) else (None, entry)
        add_arguments(parser.add_argument_group(title) if title else parser, settings_class)
        classes.append(settings_class)
    parser.set_defaults(settings_classes=tuple(classes))  # read by tests: which classes made these flags
    if handler is not None:
        parser.set_defaults(handler=lambda args: handler(*(from_arguments(cls, args) for cls in classes)))
