"""`cataract`: the command on top of every package; nothing imports it."""

from cataract_cli.main import main

__all__ = ["main"]
