"""The LL-HLS playlist text and blocking-reload rules (pure), with the query parser fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.outputs.llhls_playlist import (
    LivePlaylist,
    LlSegment,
    Part,
    ReloadQueryError,
    ReloadRequest,
    build_playlist,
    parse_reload_query,
    reload_satisfied,
    too_far_ahead,
)
from tests.media.outputs.llhls_check import check_playlist


def _segment(sequence: int, parts: int) -> LlSegment:
    return LlSegment(sequence, tuple(Part(0.2, i == 0, b"x") for i in range(parts)))


def test_playlist_lists_segments_parts_and_the_next_part_as_a_hint() -> None:
    live = LivePlaylist([_segment(7, 5)], 8, [Part(0.2, True, b"y")], 1, 0.2)
    checked = check_playlist(build_playlist(live))
    assert checked.media_sequence == 7 and checked.open_sequence == 8
    assert [s.uri for s in checked.segments] == ["ll_segment_7.m4s"]
    assert [p.uri for p in checked.segments[0].parts][-1] == "ll_part_7_4.m4s"
    assert [p.uri for p in checked.open_parts] == ["ll_part_8_0.m4s"]
    assert checked.hint == "ll_part_8_1.m4s"
    assert "PART-HOLD-BACK=0.60000" in build_playlist(live)


@given(
    st.lists(st.integers(1, 8), max_size=6),
    st.integers(0, 8),
    st.integers(0, 10**6),
)
def test_every_built_playlist_passes_the_strict_checker(
    segment_parts: list[int], open_parts: int, first: int
) -> None:
    segments = [_segment(first + i, count) for i, count in enumerate(segment_parts)]
    live = LivePlaylist(
        segments,
        first + len(segments),
        [Part(0.2, i == 0, b"z") for i in range(open_parts)],
        target_duration=2,
        part_target=0.2,
    )
    checked = check_playlist(build_playlist(live))
    assert checked.open_sequence == first + len(segments)
    assert len(checked.open_parts) == open_parts


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([], None),
        ([("t", "123")], None),  # a player's cache buster
        ([("_HLS_msn", "5")], ReloadRequest(5)),
        ([("_HLS_msn", "5"), ("_HLS_part", "2")], ReloadRequest(5, 2)),
        ([("_HLS_part", "2"), ("_HLS_msn", "0"), ("_HLS_skip", "YES")], ReloadRequest(0, 2)),
    ],
)
def test_reload_queries(query: list[tuple[str, str]], expected: ReloadRequest | None) -> None:
    assert parse_reload_query(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        [("_HLS_part", "1")],  # a part needs its segment
        [("_HLS_msn", "-1")],
        [("_HLS_msn", "1e3")],
        [("_HLS_msn", "٣")],  # a digit, but not an ASCII one
        [("_HLS_msn", "9" * 16)],
        [("_HLS_msn", "1"), ("_HLS_msn", "2")],
        [("_HLS_msn", "1"), ("_HLS_part", "")],
    ],
)
def test_bad_reload_queries_are_refused(query: list[tuple[str, str]]) -> None:
    with pytest.raises(ReloadQueryError):
        parse_reload_query(query)


NAMES = st.sampled_from(["_HLS_msn", "_HLS_part", "_HLS_skip", "x", ""])


@given(st.lists(st.tuples(NAMES | st.text(max_size=10), st.text(max_size=30)), max_size=8))
def test_any_query_parses_or_is_refused_clearly(query: list[tuple[str, str]]) -> None:
    try:
        request = parse_reload_query(query)
    except ReloadQueryError:
        return
    msns = [value for name, value in query if name == "_HLS_msn"]
    if request is None:
        assert not msns
    else:
        assert len(msns) == 1 and int(msns[0]) == request.msn
        assert request.part is None or request.part >= 0


def test_reload_waits_for_the_part_or_the_next_segment() -> None:
    finished = {4: 5}  # segment 4 ended with parts 0-4
    assert reload_satisfied(ReloadRequest(4, 2), finished, 5, 0)
    assert not reload_satisfied(ReloadRequest(4, 5), finished, 5, 0)  # means part 0 of 5
    assert reload_satisfied(ReloadRequest(4, 5), finished, 5, 1)
    assert not reload_satisfied(ReloadRequest(5), finished, 5, 3)  # segment 5 not finished
    assert reload_satisfied(ReloadRequest(4), finished, 5, 0)
    assert not reload_satisfied(ReloadRequest(5, 1), finished, 5, 1)
    assert reload_satisfied(ReloadRequest(1, 9), finished, 5, 0)  # long gone: answer at once
    assert too_far_ahead(ReloadRequest(8), 5) and not too_far_ahead(ReloadRequest(7), 5)


@given(st.integers(0, 50), st.integers(0, 12), st.integers(0, 20), st.integers(0, 8))
def test_a_satisfied_request_stays_satisfied_as_media_comes(
    msn: int, part: int, open_sequence: int, open_parts: int
) -> None:
    finished = {seq: 5 for seq in range(max(0, open_sequence - 4), open_sequence)}
    request = ReloadRequest(msn, part)
    if reload_satisfied(request, finished, open_sequence, open_parts):
        assert reload_satisfied(request, finished, open_sequence, open_parts + 1)
        # ... and when the open segment finishes with those parts and one more.
        closed = finished | {open_sequence: open_parts + 1}
        assert reload_satisfied(request, closed, open_sequence + 1, 0)
