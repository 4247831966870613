"""bench/compare.py merges old and new reports by the shape of their lines."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.conftest import REPO


def load_compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_compare", REPO / "bench" / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OLD = [
    "      1 relay 834",
    "  ratio relay/baseline: p99 1.00x, CPU 1.10x",
    "  ratio relay/baseline: p99 2.00x, CPU 1.20x",
]
NEW = [
    "      1 relay 834",
    "a line the old code did not print 3.00x",
    "  ratio relay/baseline: p99 1.50x, CPU 1.10x",
    "  ratio relay/baseline: p99 2.00x, CPU 1.32x",
]


def test_medians_are_set_side_by_side_and_added_lines_do_not_shift_the_others() -> None:
    compare = load_compare()
    runs = {
        "old": [compare.ratios(OLD), compare.ratios(OLD)],
        "new": [compare.ratios(NEW), compare.ratios(NEW)],
    }
    report = compare.merged_report(NEW, runs).splitlines()
    assert report[0] == NEW[0]
    assert report[1] == "a line the old code did not print (new) 3.00x"
    assert "p99 1.00x → 1.50x (+50 %), CPU 1.10x → 1.10x (+0 %)" in report[2]
    assert "p99 2.00x → 2.00x (+0 %), CPU 1.20x → 1.32x (+10 %)" in report[3]


def test_the_median_of_the_rounds_is_taken() -> None:
    compare = load_compare()
    lines = ["cpu 1.00x"]
    runs = {
        "old": [
            compare.ratios(["cpu 1.00x"]),
            compare.ratios(["cpu 9.00x"]),
            compare.ratios(lines),
        ],
        "new": [compare.ratios(["cpu 2.00x"])] * 3,
    }
    assert compare.merged_report(lines, runs) == "cpu 1.00x → 2.00x (+100 %)"


def test_column_padding_that_follows_the_numbers_does_not_tell_lines_apart() -> None:
    compare = load_compare()
    runs = {
        "old": [compare.ratios(["rate    900   100   9.00x"])],
        "new": [compare.ratios(["rate   1200   100  12.00x"])],
    }
    report = compare.merged_report(["rate   1200   100  12.00x"], runs)
    assert report == "rate   1200   100  9.00x → 12.00x (+33 %)"
