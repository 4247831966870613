from fakecloud.core.rates import KeyedTokenBuckets, LogThrottle, TokenBucket


def test_a_token_bucket_allows_its_rate_and_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5
    assert bucket.take() and not bucket.take()  # one token per half second
    now[0] = 100.0
    assert sum(bucket.take() for _ in range(10)) == 3  # never more than the burst


def test_a_log_throttle_counts_what_it_held_back() -> None:
    throttle = LogThrottle(interval=3600)
    assert throttle.ready("accept") == 0
    assert throttle.ready("accept") is None and throttle.ready("accept") is None
    assert throttle.ready("other") == 0  # keys are independent
    throttle.interval = 0
    assert throttle.ready("accept") == 2


def test_keyed_buckets_limit_each_key_alone_and_stay_bounded() -> None:
    now = [0.0]
    buckets = KeyedTokenBuckets(rate=1.0, burst=2, max_keys=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [True, True, False]
    assert buckets.take("b")  # another key has its own allowance
    now[0] += 1.0
    assert buckets.take("a") and not buckets.take("a")  # refilled at `rate`
    for key in "cdef":
        buckets.take(key)
    assert len(buckets) == 3
