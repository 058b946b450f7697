"""Settings declared once, as dataclass fields that carry their help text and limits.

A settings class (TrainConfig, say) declares each field with `setting(...)`; its
`__post_init__` calls `check_settings(self)`; the command line builds its flags from the
same fields with `add_arguments` and turns parsed flags back into the class with
`from_arguments`. Tests build the classes directly, never flag lists.

A field's annotation (a string: the modules use `from __future__ import annotations`)
gives its flag's type: `bool` is a switch, `int`, `float` and `str` take a value (`| None`
where it may be left unset), and `tuple[str, ...]` takes several: a positional field one
or more values, a flag one per use (`--origin A --origin B`).
"""

from __future__ import annotations

import argparse
import dataclasses
import operator
import sys
from typing import Any, Sequence, TypeVar

from train_jax.errors import UserError

Settings = TypeVar("Settings")
VALUE_TYPES = {"int": int, "float": float, "str": str}
# Each limit a field may declare: its name in setting(), its sign, and the test a value must pass.
LIMITS = (("minimum", ">=", operator.ge), ("above", ">", operator.gt), ("below", "<", operator.lt),
          ("maximum", "<=", operator.le))


def setting(default: Any = dataclasses.MISSING, help: str = "", *, choices: Sequence[Any] | None = None,
            minimum: float | None = None, above: float | None = None, below: float | None = None,
            maximum: float | None = None, flag: bool = True, positional: bool = False, metavar: str | None = None,
            aliases: Sequence[str] = (), deprecated_alias: str | None = None, one_of: str | None = None) -> Any:
    """A dataclass field with its help text and limits: value in `choices`, value >=
    `minimum`, > `above`, < `below`, <= `maximum`. On the command line: `flag=False` keeps it
    off; `positional` makes it an argument without a flag; `metavar` names its value in the
    help; `aliases` are more names of its flag (`-v`); `deprecated_alias` is an old name that
    still works and warns; fields with the same `one_of` name are alternatives, exactly one
    of which must be given."""
    metadata = {"help": help, "choices": choices, "minimum": minimum, "above": above, "below": below,
                "maximum": maximum, "flag": flag, "positional": positional, "metavar": metavar,
                "aliases": tuple(aliases), "deprecated_alias": deprecated_alias, "one_of": one_of}
    return dataclasses.field(default=default, metadata=metadata)


def flag_name(field: dataclasses.Field) -> str:
    """How the command line names the field: its flag, or a positional argument's name."""
    return field.name if field.metadata.get("positional") else "--" + field.name.replace("_", "-")


def option_strings(field: dataclasses.Field) -> list[str]:
    """The names of the field's flag (none for a positional), its deprecated alias aside."""
    return [] if field.metadata["positional"] else [*field.metadata["aliases"], flag_name(field)]


def check_settings(settings: Any) -> None:
    """Raise UserError naming the flag of the first field outside its declared limits."""
    for field in dataclasses.fields(settings):
        value, meta = getattr(settings, field.name), field.metadata
        if value is None or not meta:
            continue
        for item in value if isinstance(value, tuple) else (value,):
            check_value(flag_name(field), item, meta)


def check_value(name: str, value: Any, meta: dict[str, Any]) -> None:
    if meta["choices"] is not None and value not in meta["choices"]:
        raise UserError(f"{name} must be one of {', '.join(map(str, meta['choices']))}, got {value!r}")
    declared = [(sign, meta[key], holds) for key, sign, holds in LIMITS if meta[key] is not None]
    if not all(holds(value, limit) for _, limit, holds in declared):
        wanted = " and ".join(f"{sign} {limit:g}" for sign, limit, _ in declared)
        raise UserError(f"{name} must be {wanted}, got {value}")


class DeprecatedFlag(argparse.Action):
    """An old name of a flag: it still sets the flag's value, and says which name to use."""

    def __init__(self, option_strings: list[str], dest: str, replacement: str, **options: Any):
        super().__init__(option_strings, dest, **options)
        self.replacement = replacement

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        shown = f" {self.metavar}" if self.metavar else ""
        print(f"{parser.prog}: warning: {option_string}{shown} is deprecated: use {self.replacement}{shown}",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_arguments(parser: argparse.ArgumentParser, settings_class: type) -> None:
    """One flag (or positional argument) per field: its names, type, default, choices and
    help come from the field."""
    alternatives: dict[str, Any] = {}
    for field in dataclasses.fields(settings_class):
        meta = field.metadata
        if not meta or not meta["flag"]:
            continue
        group = parser
        if meta["one_of"]:
            if meta["one_of"] not in alternatives:
                alternatives[meta["one_of"]] = parser.add_mutually_exclusive_group(required=True)
            group = alternatives[meta["one_of"]]
        options = argument_options(field)
        if meta["positional"]:
            group.add_argument(field.name, **options)
        else:
            group.add_argument(*option_strings(field), dest=field.name, **options)
        if meta["deprecated_alias"]:
            parser.add_argument(meta["deprecated_alias"], dest=field.name, action=DeprecatedFlag,
                                replacement=flag_name(field), type=options["type"], metavar=meta["metavar"],
                                default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def argument_options(field: dataclasses.Field) -> dict[str, Any]:
    """What argparse needs to know of one field besides its names."""
    meta = field.metadata
    required = field.default is dataclasses.MISSING
    default = None if required else field.default
    options: dict[str, Any] = {"help": meta["help"] + ("" if required else shown_default(default))}
    type_name = str(field.type).removesuffix(" | None")
    if type_name == "bool":
        return {**options, "action": "store_true"}
    several = type_name.startswith("tuple[")
    options.update(type=VALUE_TYPES[type_name.removeprefix("tuple[").removesuffix(", ...]")], choices=meta["choices"],
                   metavar=meta["metavar"])
    if meta["positional"]:
        return {**options, "nargs": "+"} if several else options
    if several:
        return {**options, "action": "append", "default": list(default or ()), "required": required}
    return {**options, "default": default, "required": required}


def shown_default(default: Any) -> str:
    """The default as the help text ends with it; nothing for a field left unset by default."""
    if default is None or default is False or default == ():
        return ""
    return f" (default {default:g})" if isinstance(default, float) else f" (default {default})"


def from_arguments(settings_class: type[Settings], args: argparse.Namespace, **overrides: Any) -> Settings:
    """The settings object from parsed flags (and any `overrides`); checks run in it."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(settings_class)
              if field.metadata and field.metadata["flag"]}
    several = {name: tuple(value) for name, value in values.items() if isinstance(value, list)}
    return settings_class(**{**values, **several, **overrides})


def to_arguments(settings: Any) -> list[str]:
    """The flags that rebuild `settings` (the inverse of from_arguments): for launchers
    that start the command line elsewhere, such as another process or machine."""
    positional: list[str] = []
    flags: list[str] = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if not field.metadata or not field.metadata["flag"] or value is None or value is False:
            continue
        values = [str(item) for item in (value if isinstance(value, tuple) else (value,))]
        if field.metadata["positional"]:
            positional += values
        elif value is True:
            flags.append(flag_name(field))
        else:
            flags += [part for item in values for part in (flag_name(field), item)]
    return positional + flags
