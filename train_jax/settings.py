"""Settings declared once, as dataclass fields that carry their help text and limits.

A settings class (TrainConfig, say) declares each field with `setting(...)`; its
`__post_init__` calls `check_settings(self)`; the command line builds its flags from the
same fields with `add_arguments` and turns parsed flags back into the class with
`from_arguments`. Tests build the classes directly, never flag lists.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Sequence, TypeVar

from train_jax.errors import UserError

Settings = TypeVar("Settings")


def setting(default: Any = dataclasses.MISSING, help: str = "", *, choices: Sequence[Any] | None = None,
            minimum: float | None = None, below: float | None = None, maximum: float | None = None,
            flag: bool = True) -> Any:
    """A dataclass field with its help text and limits: value in `choices`, value >=
    `minimum`, < `below`, <= `maximum`. `flag=False` keeps it off the command line."""
    metadata = {"help": help, "choices": choices, "minimum": minimum, "below": below, "maximum": maximum, "flag": flag}
    return dataclasses.field(default=default, metadata=metadata)


def flag_name(field: dataclasses.Field) -> str:
    return "--" + field.name.replace("_", "-")


def check_settings(settings: Any) -> None:
    """Raise UserError naming the flag of the first field outside its declared limits."""
    for field in dataclasses.fields(settings):
        value, meta = getattr(settings, field.name), field.metadata
        if value is None or not meta:
            continue
        name = flag_name(field)
        if meta["choices"] is not None and value not in meta["choices"]:
            raise UserError(f"{name} must be one of {', '.join(map(str, meta['choices']))}, got {value!r}")
        low, below, high = meta["minimum"], meta["below"], meta["maximum"]
        if (low is not None and value < low) or (below is not None and value >= below) or (high is not None and value > high):
            limits = [f">= {low:g}" if low is not None else "", f"< {below:g}" if below is not None else "",
                      f"<= {high:g}" if high is not None else ""]
            raise UserError(f"{name} must be {' and '.join(limit for limit in limits if limit)}, got {value}")


def add_arguments(parser: argparse.ArgumentParser, settings_class: type) -> None:
    """One flag per field: its type, default, choices and help come from the field."""
    for field in dataclasses.fields(settings_class):
        meta = field.metadata
        if not meta or not meta["flag"]:
            continue
        required = field.default is dataclasses.MISSING
        default = None if required else field.default
        shown = "" if required or default is None else f" (default {default})"
        type_name = str(field.type).removesuffix(" | None")  # annotations are strings here
        if type_name == "bool":
            parser.add_argument(flag_name(field), action="store_true", help=meta["help"])
            continue
        kind = {"int": int, "float": float, "str": str}[type_name]
        parser.add_argument(flag_name(field), type=kind, default=default, required=required, choices=meta["choices"],
                            help=meta["help"] + shown)


def from_arguments(settings_class: type[Settings], args: argparse.Namespace, **overrides: Any) -> Settings:
    """The settings object from parsed flags (and any `overrides`); checks run in it."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(settings_class)
              if field.metadata and field.metadata["flag"]}
    return settings_class(**{**values, **overrides})


def to_arguments(settings: Any) -> list[str]:
    """The flags that rebuild `settings` (the inverse of from_arguments): for launchers
    that start the command line elsewhere, such as another process or machine."""
    flags: list[str] = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if not field.metadata or not field.metadata["flag"] or value is None or value is False:
            continue
        flags += [flag_name(field)] if value is True else [flag_name(field), str(value)]
    return flags
