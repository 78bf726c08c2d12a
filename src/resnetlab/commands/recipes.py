"""``resnetlab recipes [NAME]``: the training recipes and their fields."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "recipes", help="list training recipes, or show one recipe's fields",
        description="Without NAME: every recipe with its summary. With NAME: every field and "
        "its value; any field can be changed with 'resnetlab train --set FIELD=VALUE'. "
        "Sources of each choice: docs/recipes.md.")
    p.add_argument("name", nargs="?", help="recipe to show")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.train.recipes import RECIPES, describe, get_recipe

    if args.name is None:
        if args.json:
            print(json.dumps({n: r.to_dict() for n, r in RECIPES.items()}, indent=2))
            return 0
        width = max(len(n) for n in RECIPES)
        for name, recipe in RECIPES.items():
            print(f"{name:<{width}}  {recipe.summary}")
        print("\nshow one with 'resnetlab recipes NAME'; change a field with --set FIELD=VALUE")
        return 0
    recipe = get_recipe(args.name)
    if args.json:
        print(json.dumps(recipe.to_dict(), indent=2))
        return 0
    rows = describe(recipe)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
