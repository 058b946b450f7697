"""Training recipes: named, documented settings, in the style of big_vision's configs/.

Each recipe is one module here. Its docstring gives the command that runs it, the data it
expects, and the wall time and validation result measured with it; its `settings()`
returns the TrainConfig fields it sets. `cataract train --recipe NAME` starts from those
settings and flags override single ones; settings a recipe leaves out (the batch, the
workers, the frozen-feature cache, the precision) are decided for the machine that runs it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from train_jax.errors import UserError
from train_jax.recipes import demo, imagenet, photos_cpu, photos_gpu

# Name on the command line -> module (hyphens there, underscores in module names).
RECIPES: dict[str, ModuleType] = {
    "demo": demo,
    "photos-cpu": photos_cpu,
    "imagenet": imagenet,
    "photos-gpu": photos_gpu,
}


def recipe_settings(name: str) -> dict[str, Any]:
    """The TrainConfig field overrides of the recipe called `name` (a copy: change it freely)."""
    if name not in RECIPES:
        raise UserError(f"unknown recipe {name!r}: the recipes are {', '.join(RECIPES)}")
    return dict(RECIPES[name].settings())


def summary(name: str) -> str:
    """The first line of the recipe's docstring: what it trains, in a few words."""
    return RECIPES[name].__doc__.strip().splitlines()[0]


def recipe_help() -> str:
    """One line per recipe, its name and summary: for `cataract train --help`."""
    width = max(map(len, RECIPES))
    return "\n".join(f"  {name:{width}s}  {summary(name)}" for name in RECIPES)
