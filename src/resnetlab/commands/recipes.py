"""``resnetlab recipes [NAME]``: the training recipes and their fields."""

from __future__ import annotations

import argparse

from resnetlab.commands import options


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab recipes``."""
    parser.description = (
        "Without RECIPE: every recipe with its summary. With RECIPE: every field and its value; "
        "any field can be changed with 'resnetlab train --set FIELD=VALUE'. Sources of each "
        "choice: docs/recipes.md.")
    parser.add_argument("name", nargs="?", metavar="RECIPE", help="recipe to show")
    options.add_json(parser, "the recipes, or the one recipe")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.train.recipes import RECIPES, describe, get_recipe

    if args.name is None:
        if args.json:
            options.write_json({n: r.to_dict() for n, r in RECIPES.items()}, args.json)
        if args.json == "-":
            return 0
        width = max(len(n) for n in RECIPES)
        for name, recipe in RECIPES.items():
            print(f"{name:<{width}}  {recipe.summary}")
        print("\nshow one with 'resnetlab recipes RECIPE'; change a field with --set "
              "FIELD=VALUE")
        return 0
    recipe = get_recipe(args.name)
    if args.json:
        options.write_json(recipe.to_dict(), args.json)
    if args.json == "-":
        return 0
    rows = describe(recipe)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
