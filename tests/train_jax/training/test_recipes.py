"""The training recipes: each one's settings make a valid TrainConfig, its docstring
gives its command, an unknown name is an error naming the known ones, and the help lists
them all."""

from __future__ import annotations

import dataclasses

import pytest

from train_jax.errors import UserError
from train_jax.recipes import RECIPES, recipe_help, recipe_settings
from train_jax.training.config import TrainConfig

NAMES = ("demo", "photos-cpu", "imagenet", "photos-gpu")


def test_the_four_recipes_are_there_under_their_command_line_names():
    assert tuple(RECIPES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_a_recipe_builds_a_valid_config_and_documents_its_command(name):
    settings = recipe_settings(name)
    assert set(settings) <= {field.name for field in dataclasses.fields(TrainConfig)} - {"data", "out"}
    config = TrainConfig(data="DATA", out="RUN", **settings)
    assert {key: getattr(config, key) for key in settings} == settings
    documentation = RECIPES[name].__doc__
    assert f"cataract train --recipe {name} --data " in documentation
    assert "Data:" in documentation and "Measured" in documentation


def test_recipe_settings_are_a_copy():
    recipe_settings("demo")["image_size"] = 32
    assert recipe_settings("demo")["image_size"] == 64


def test_an_unknown_recipe_names_the_known_ones():
    with pytest.raises(UserError, match="unknown recipe 'photos'") as error:
        recipe_settings("photos")
    assert all(name in str(error.value) for name in NAMES)


def test_the_help_lists_every_recipe_on_one_line_with_its_summary():
    lines = recipe_help().splitlines()
    assert [line.split()[0] for line in lines] == list(NAMES)
    for line, name in zip(lines, NAMES):
        assert line.endswith(RECIPES[name].__doc__.strip().splitlines()[0])
