"""The micro-batcher: coalescing, per-caller slices, error isolation, bounds, threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from accuguard.gateway.batcher import BatcherClosed, BatcherOverloaded, MicroBatcher
from accuguard.gateway.models import BatchOutput


class EchoModel:
    """Returns each row's ``x`` as its label and ``x / 10`` as its score; counts calls."""

    def __init__(self, delay: float = 0.0, fail_on: int | None = None) -> None:
        self.calls: list[int] = []
        self.threads: set[str] = set()
        self.delay = delay
        self.fail_on = fail_on

    def __call__(self, rows):
        self.calls.append(len(rows))
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on is not None and any(r["x"] == self.fail_on for r in rows):
            raise ValueError(f"cannot score x={self.fail_on}")
        return BatchOutput([r["x"] for r in rows], [r["x"] / 10 for r in rows])


def run(coro):
    return asyncio.run(coro)


def test_concurrent_single_rows_are_coalesced_into_fewer_model_calls():
    model = EchoModel(delay=0.002)

    async def main():
        batcher = MicroBatcher(model, max_batch_size=16, max_wait_ms=5)
        outs = await asyncio.gather(*(batcher.submit([{"x": i}]) for i in range(100)))
        await batcher.close()
        return outs

    outs = run(main())
    assert [o.labels for o in outs] == [[i] for i in range(100)]  # each caller: its own row
    assert [o.scores for o in outs] == [[i / 10] for i in range(100)]
    assert sum(model.calls) == 100
    assert len(model.calls) < 100  # coalesced
    assert len(model.calls) <= 100 // 16 + 2
    assert max(model.calls) <= 16


def test_multi_row_requests_get_their_own_slice_back():
    model = EchoModel()

    async def main():
        batcher = MicroBatcher(model, max_batch_size=64, max_wait_ms=5)
        sizes = [3, 1, 5, 2]
        start = [0, 3, 4, 9]
        reqs = [[{"x": s + k} for k in range(n)] for s, n in zip(start, sizes, strict=True)]
        outs = await asyncio.gather(*(batcher.submit(r) for r in reqs))
        await batcher.close()
        return reqs, outs

    reqs, outs = run(main())
    for req, out in zip(reqs, outs, strict=True):
        assert out.labels == [r["x"] for r in req]
    assert model.calls == [11]


def test_model_runs_in_a_worker_thread_never_on_the_event_loop():
    model = EchoModel()

    async def main():
        batcher = MicroBatcher(model, name="echo")
        await batcher.submit([{"x": 1}])
        await batcher.close()
        return threading.current_thread().name

    loop_thread = run(main())
    assert model.threads == {"accuguard-model-echo"}
    assert loop_thread not in model.threads


def test_an_error_reaches_only_the_request_that_causes_it():
    model = EchoModel(fail_on=7)

    async def main():
        batcher = MicroBatcher(model, max_batch_size=64, max_wait_ms=5)
        outs = await asyncio.gather(
            *(batcher.submit([{"x": i}]) for i in range(10)), return_exceptions=True
        )
        await batcher.close()
        return outs

    outs = run(main())
    errors = [i for i, o in enumerate(outs) if isinstance(o, Exception)]
    assert errors == [7]
    assert str(outs[7]) == "cannot score x=7"
    assert [o.labels[0] for i, o in enumerate(outs) if i != 7] == [0, 1, 2, 3, 4, 5, 6, 8, 9]


def test_without_isolation_every_caller_of_the_failed_batch_gets_the_error():
    model = EchoModel(fail_on=2)

    async def main():
        batcher = MicroBatcher(model, max_batch_size=64, max_wait_ms=5, isolate_errors=False)
        outs = await asyncio.gather(
            *(batcher.submit([{"x": i}]) for i in range(4)), return_exceptions=True
        )
        later = await batcher.submit([{"x": 9}])  # the next batch is not affected
        await batcher.close()
        return outs, later

    outs, later = run(main())
    assert all(isinstance(o, ValueError) for o in outs)
    assert later.labels == [9]


def test_a_full_queue_is_refused_at_once():
    model = EchoModel(delay=0.05)

    async def main():
        batcher = MicroBatcher(model, max_batch_size=1, max_wait_ms=0, max_queue=3)
        first = asyncio.ensure_future(batcher.submit([{"x": 0}]))
        await asyncio.sleep(0.01)  # the first call is running, the queue is empty
        queued = [asyncio.ensure_future(batcher.submit([{"x": i}])) for i in (1, 2, 3)]
        await asyncio.sleep(0)
        with pytest.raises(BatcherOverloaded, match=r"3 rows queued \(max_queue 3\)"):
            await batcher.submit([{"x": 4}])
        outs = await asyncio.gather(first, *queued)
        await batcher.close()
        return outs

    assert [o.labels for o in run(main())] == [[0], [1], [2], [3]]


def test_close_finishes_queued_work_then_refuses():
    model = EchoModel(delay=0.01)

    async def main():
        batcher = MicroBatcher(model, max_batch_size=2, max_wait_ms=1)
        pending = [asyncio.ensure_future(batcher.submit([{"x": i}])) for i in range(6)]
        await asyncio.sleep(0)
        await batcher.close()
        outs = await asyncio.gather(*pending)
        with pytest.raises(BatcherClosed):
            await batcher.submit([{"x": 1}])
        return outs, batcher.pending

    outs, pending = run(main())
    assert [o.labels for o in outs] == [[i] for i in range(6)]
    assert pending == 0


def test_close_gives_up_on_a_hanging_model_and_fails_its_callers():
    model = EchoModel(delay=1.0)

    async def main():
        batcher = MicroBatcher(model, max_batch_size=1, max_wait_ms=0)
        stuck = asyncio.ensure_future(batcher.submit([{"x": 1}]))
        waiting = asyncio.ensure_future(batcher.submit([{"x": 2}]))
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        await batcher.close(timeout=0.1)
        took = time.perf_counter() - t0
        results = await asyncio.gather(stuck, waiting, return_exceptions=True)
        return took, results

    took, results = run(main())
    assert took < 0.9  # did not wait for the 1 s call
    assert all(isinstance(r, BatcherClosed) for r in results)


def test_a_caller_that_gives_up_is_skipped_and_pending_counts_until_done():
    model = EchoModel(delay=0.05)

    async def main():
        batcher = MicroBatcher(model, max_batch_size=1, max_wait_ms=0)
        first = asyncio.ensure_future(batcher.submit([{"x": 1}]))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(batcher.submit([{"x": 2}]))
        await asyncio.sleep(0)
        second.cancel()  # the caller timed out while queued
        seen = batcher.pending
        await first
        await asyncio.sleep(0.02)
        await batcher.close()
        return seen, batcher.pending

    seen, after = run(main())
    assert seen == 2
    assert after == 0
    assert model.calls == [1]  # the cancelled request never reached the model


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="max_batch_size must be >= 1, got 0"):
        MicroBatcher(EchoModel(), max_batch_size=0)
    with pytest.raises(ValueError, match="max_wait_ms must be >= 0, got -1"):
        MicroBatcher(EchoModel(), max_wait_ms=-1)
