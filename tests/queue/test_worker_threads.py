"""Thread-mode calls run in reused daemon threads; a call that never returns keeps its
thread and never delays the next call."""

from __future__ import annotations

import threading

from hiring_jobs.queue.worker import DaemonThreadExecutor


def test_sequential_calls_reuse_one_daemon_thread() -> None:
    executor = DaemonThreadExecutor()
    threads = {executor.submit(threading.current_thread).result(timeout=30) for _ in range(50)}

    assert len(threads) == 1
    assert all(thread.daemon for thread in threads)


def test_a_call_that_never_returns_does_not_hold_up_the_next_one() -> None:
    executor = DaemonThreadExecutor()
    release = threading.Event()
    hung = executor.submit(release.wait)
    try:
        later = executor.submit(threading.current_thread)

        assert later.result(timeout=30).daemon, "ran at once, on another daemon thread"
        assert not hung.done()
    finally:
        release.set()
    assert hung.result(timeout=30) is True
