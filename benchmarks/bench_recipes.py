"""The reference notes' experiments (recipes/*.yaml) against their published figures.

    python benchmarks/bench_recipes.py --data-dir ../shared/data            # run every recipe
    python benchmarks/bench_recipes.py --data-dir ../shared/data imdb-lstm  # some of them
    python benchmarks/bench_recipes.py --variant imdb-lstm                  # + rnnops' own settings
    python benchmarks/bench_recipes.py --table                              # the table only

Each recipe runs as `rnnops recipe run` does (a temporary DVC experiment; its figure and wall
time land in recipes/results/), then the README's table is printed from every recipe's last
results: published figure, rnnops' figure with the same settings, with rnnops' own settings
(`variant:`) where the recipe has one, and the wall times (prepare included, on this machine).
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rnnops import recipes  # noqa: E402


def cell(values: dict) -> str:
    shown = [f"{v:.4f}" for v in values.values() if v is not None]
    return " / ".join(shown) if shown else "—"


def minutes(seconds) -> str:
    return f"{seconds / 60:.1f} min" if seconds else "—"


def markdown(rows: list[dict]) -> str:
    lines = ["| recipe | figure | published | rnnops, same settings | rnnops, own settings | wall time |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        published = "—" if row["published"] is None else f"{row['published']}"
        own = cell(row["variant"])
        time = minutes(row["seconds"]) + (f" / {minutes(row['variant_seconds'])}" if row["variant"] else "")
        lines.append(f"| `{row['recipe']}` | {row['figure']} | {published} | {cell(row['rnnops'])} | {own} | {time} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="recipes to run (default: all)")
    parser.add_argument("--data-dir", help="local copies of the datasets (../shared/data)")
    parser.add_argument("--variant", action="store_true", help="also run each recipe's variant")
    parser.add_argument("--table", action="store_true", help="print the table without running anything")
    args = parser.parse_args()
    if not args.table:
        for name in args.names or recipes.names(ROOT):
            recipe = recipes.load(name, ROOT)
            for variant in (False, True) if args.variant and recipe.variant else (False,):
                result = recipes.run(recipe, ROOT, args.data_dir, variant=variant)
                print(f"{name}{' (variant)' if variant else ''}: {result['rnnops']} in {result['seconds']:.0f} s",
                      flush=True)
    print(markdown(recipes.table(ROOT)))


if __name__ == "__main__":
    main()
