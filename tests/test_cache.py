"""geo.cache.LRU, the one in-process cache: bounded by entries or by weight (the tiles' byte
budget), least recently used out first, and every cache of the app is one of these."""

from __future__ import annotations

import threading

from geo.cache import LRU


def test_the_least_recently_used_entry_goes_first():
    lru = LRU(2)
    assert lru.get("a", lambda: 1) == 1 and lru.get("b", lambda: 2) == 2
    assert lru.get("a", lambda: 99) == 1  # a hit: not recomputed, and now the most recent
    lru.get("c", lambda: 3)
    assert lru.get_if_present("b") is None and lru.get_if_present("a") == 1 and len(lru) == 2


def test_a_weight_budget_keeps_the_total_under_it():
    lru = LRU(10, weigh=len)
    lru.put("a", b"xxxx")
    lru.put("b", b"yyyy")
    lru.put("a", b"zz")  # replacing an entry replaces its weight
    assert lru.weight == 6 and lru.get_if_present("a") == b"zz"
    lru.put("c", b"wwwww")  # 11 > 10: the least recent (b) goes
    assert lru.get_if_present("b") is None and lru.weight == 7
    lru.put("huge", b"h" * 11)  # heavier than the whole budget: not kept, and nothing else either
    assert lru.get_if_present("huge") is None and lru.weight == 0 and len(lru) == 0


def test_empty_values_are_cached_and_clear_empties():
    lru = LRU(4, weigh=len)
    calls = []
    for _ in range(3):
        lru.get("tile", lambda: calls.append(1) or b"")
    assert calls == [1] and lru.get_if_present("tile") == b""  # an empty tile is a value, not a miss
    lru.clear()
    assert len(lru) == 0 and lru.weight == 0 and lru.get_if_present("tile") is None


def test_discard_drops_one_entry_and_its_weight():
    lru = LRU(10, weigh=len)
    lru.put("a", b"aaa")
    lru.put("b", b"bb")
    lru.discard("a")
    lru.discard("never there")
    assert lru.get_if_present("a") is None and lru.get_if_present("b") == b"bb" and lru.weight == 2


def test_threads_never_lose_the_bookkeeping():
    lru = LRU(50, weigh=len)

    def work(k):
        for i in range(500):
            lru.get((k, i % 80), lambda: b"x" * (i % 7 + 1))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lru.weight <= 50
    assert lru.weight == sum(len(lru.get_if_present(k)) for k in list(lru._items))


def test_the_tile_cache_is_one_by_bytes():
    from geo.web.api import tiles as tiles_api

    assert isinstance(tiles_api.CACHE, LRU) and tiles_api.CACHE.maxsize == 64 * 1024 * 1024


def test_threads_missing_the_same_key_at_once_compute_it_once():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    lru, calls, lock = LRU(8), [], threading.Lock()

    def compute():
        with lock:
            calls.append(1)
        time.sleep(0.3)  # long enough for every thread to miss while it runs
        return "tile"

    with ThreadPoolExecutor(16) as ex:
        got = list(ex.map(lambda _: lru.get("k", compute), range(16)))
    assert got == ["tile"] * 16 and len(calls) == 1


def test_the_waiting_threads_get_the_first_threads_error_and_nothing_is_kept():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import pytest

    lru, calls, lock = LRU(8), [], threading.Lock()

    def compute():
        with lock:
            calls.append(1)
        time.sleep(0.3)
        raise TimeoutError("too slow")

    def ask(_):
        try:
            return lru.get("k", compute)
        except TimeoutError as exc:
            return str(exc)

    with ThreadPoolExecutor(8) as ex:
        assert list(ex.map(ask, range(8))) == ["too slow"] * 8
    assert len(calls) == 1 and lru.get_if_present("k") is None
    with pytest.raises(TimeoutError):  # a later miss computes again
        lru.get("k", compute)
    assert len(calls) == 2


def test_a_compute_asking_for_its_own_key_does_not_wait_on_itself():
    lru = LRU(8)
    assert lru.get("k", lambda: lru.get("k", lambda: 1) + 1) == 2
