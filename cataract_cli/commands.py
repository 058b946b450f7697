"""How a subcommand is declared: by the settings classes it takes. Their fields become its
flags (train_jax/settings.py), and its handler is called with one object of each class,
built from the parsed flags (so their checks run, and a value out of its limits is a
one-line error naming the flag). No command declares a flag by hand.

A class may also start from values that a flag chooses (`cataract train --recipe NAME`):
declared as `Overridable`, its object is built from its defaults, then those values, then
the flags the command line gave, so a flag given overrides one setting of the recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from typing import Any, Callable, Sequence, Union

from train_jax.settings import add_arguments, from_arguments


@dataclasses.dataclass(frozen=True)
class Overridable:
    """A settings class whose flags override a starting point: `start(given)` returns the
    field values to start from, `given` being the fields the command line gave."""

    settings_class: type
    start: Callable[[dict[str, Any]], dict[str, Any]]

    def build(self, args: argparse.Namespace) -> Any:
        given = {name: getattr(args, name) for name in args.given}
        start = {name: value for name, value in self.start(given).items() if name not in given}
        return from_arguments(self.settings_class, args, **start)


# A settings class (or an Overridable one), or (title, that) for flags shown under a heading of their own.
Declared = Union[type, Overridable, tuple[str, Union[type, Overridable]]]


class CommandParser(argparse.ArgumentParser):
    """The parser of `cataract` and of each command. The flags of an Overridable class start
    unset; once parsed, `args.given` names those the command line gave, and the others take
    their defaults, so the parsed flags hold every field as with any other class."""

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        self.overridable_defaults: dict[str, Any] = {}

    def mark_overridable(self, settings_class: type) -> None:
        names = {field.name for field in dataclasses.fields(settings_class)}
        for action in self._actions:
            # A deprecated alias shares its flag's name and is unset already.
            if action.dest in names and action.default is not argparse.SUPPRESS:
                self.overridable_defaults[action.dest] = action.default
                action.default = argparse.SUPPRESS

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if self.overridable_defaults:
            namespace.given = frozenset(self.overridable_defaults).intersection(vars(namespace))
            for name, default in self.overridable_defaults.items():
                if name not in namespace.given:
                    setattr(namespace, name, default)
        return namespace, extras


def add_command(commands, name: str, handler: Callable[..., int], settings: Sequence[Declared] = (),
                **parser_options) -> argparse.ArgumentParser:
    """`cataract NAME`: `handler(*settings objects)` runs it and returns its exit code."""
    parser = commands.add_parser(name, **parser_options)
    declare(parser, handler, settings)
    return parser


def declare(parser: CommandParser, handler: Callable[..., int] | None, settings: Sequence[Declared]) -> None:
    """The parser's flags from `settings`; `handler`, where given, runs with them built."""
    classes, builders = [], []
    for entry in settings:
        title, declared = entry if isinstance(entry, tuple) else (None, entry)
        settings_class = declared.settings_class if isinstance(declared, Overridable) else declared
        add_arguments(parser.add_argument_group(title) if title else parser, settings_class)
        if isinstance(declared, Overridable):
            parser.mark_overridable(settings_class)
            builders.append(declared.build)
        else:
            builders.append(functools.partial(from_arguments, settings_class))
        classes.append(settings_class)
    parser.set_defaults(settings_classes=tuple(classes))  # read by tests: which classes made these flags
    if handler is not None:
        parser.set_defaults(handler=lambda args: handler(*(build(args) for build in builders)))
