"""Old code against new, side by side in one run (run by hand):

    python bench/compare.py REF bench/relay/run.py [--rounds 3] [-- bench options]

Checks REF (a git revision) out into a temporary worktree, or takes REF as the old checkout
when it is a folder, then runs the benchmark of that checkout and of
this one in turns (old, new, new, old, ...: a machine that drifts during the run drifts for both)
and prints the new run's report with every ratio ("1.23x") replaced by "old → new", the median
of the rounds, and the change in per cent. Every benchmark here prints its figures against a
reference in the same run, so this compares ratios, which another process's load disturbs less
than absolute figures. The worktree is removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RATIO = re.compile(r"(\d+(?:\.\d+)?)x\b")
RUN_DEADLINE = 1800.0


def run_bench(checkout: Path, script: str, options: list[str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(checkout / script), *options],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout / script} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.splitlines()


NUMBER = re.compile(r"\d+(?:\.\d+)?")
Ratios = dict[tuple[str, int], list[float]]


def shape_of(line: str) -> str:
    """A line without its numbers and its column padding (which follows the numbers' widths)."""
    return " ".join(NUMBER.sub("#", line).split())


def ratios(lines: list[str]) -> Ratios:
    """The ratios of each line that has some, by the line's shape (its text without numbers)
    and how many lines of that shape came before: lines that one side added or dropped do not
    shift the others."""
    found: Ratios = {}
    seen: Counter[str] = Counter()
    for line in lines:
        values = [float(value) for value in RATIO.findall(line)]
        if values:
            shape = shape_of(line)
            found[(shape, seen[shape])] = values
            seen[shape] += 1
    return found


def merged_report(lines: list[str], runs: dict[str, list[Ratios]]) -> str:
    """`lines` with each ratio replaced by the old and new medians and the change; a ratio
    the old code did not print is marked new."""
    out = []
    seen: Counter[str] = Counter()
    for line in lines:
        shape = shape_of(line)
        key = (shape, seen[shape])
        pieces = RATIO.split(line)  # text, ratio, text, ratio, ..., text
        if len(pieces) > 1:
            seen[shape] += 1
        for column in range(len(pieces) // 2):
            after = statistics.median(run[key][column] for run in runs["new"] if key in run)
            if not all(key in run for run in runs["old"]):
                pieces[2 * column + 1] = f"(new) {after:.2f}x"
                continue
            before = statistics.median(run[key][column] for run in runs["old"])
            change = f"{(after / before - 1) * 100:+.0f} %" if before else "n/a"
            pieces[2 * column + 1] = f"{before:.2f}x → {after:.2f}x ({change})"
        out.append("".join(pieces))
    return "\n".join(out)


@contextlib.contextmanager
def old_checkout(ref: str) -> Iterator[Path]:
    """A folder holding the old code: `ref` itself when it is one (an old checkout whose
    benchmark needed a fix to run, say), else a temporary worktree of that revision."""
    if Path(ref).is_dir():
        yield Path(ref).resolve()
        return
    with tempfile.TemporaryDirectory(prefix="fakecloud-compare-") as parent:
        tree = Path(parent) / "old"
        git = ["git", "-C", str(REPO), "worktree"]
        subprocess.run([*git, "add", "--detach", "-q", str(tree), ref], check=True)
        try:
            yield tree
        finally:
            subprocess.run([*git, "remove", "--force", str(tree)], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="the old code: any git revision")
    parser.add_argument("script", help="the benchmark, relative to the checkout")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (1-10)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.options = argv[split + 1 :]
    rounds = max(1, min(args.rounds, 10))
    with old_checkout(args.ref) as old_tree:
        runs: dict[str, list[Ratios]] = {"old": [], "new": []}
        last: list[str] = []
        for round_number in range(rounds):
            order = ("old", "new") if round_number % 2 == 0 else ("new", "old")
            for side in order:
                lines = run_bench(old_tree if side == "old" else REPO, args.script, args.options)
                runs[side].append(ratios(lines))
                # Each report as it comes, on stderr: the record behind the medians.
                heading = f"--- round {round_number + 1}, {side} ---"
                print(heading, *lines, sep="\n", file=sys.stderr, flush=True)
                if side == "new":
                    last = lines
    print(
        f"{args.script} {' '.join(args.options)}: {args.ref} → working tree, "
        f"median of {rounds} rounds each"
    )
    print(merged_report(last, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
