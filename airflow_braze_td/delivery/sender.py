"""The sender thread: batches go out while the next ones are read, and what follows each send runs in order."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

SEND_QUEUE_DEPTH = 2


class Sender:
    """Sends batches, up to `in_flight` at once, while the caller reads on, and runs what follows each send
    (recording its acknowledgement, committing a bundle) on one thread, in submission order.

    With one request in flight the send runs on that ordered thread too, and up to `depth` jobs wait. With
    more, they are sent on a pool (hiding Treasure Data's answer time) and a new send starts only while
    fewer than `in_flight` are sent and not yet recorded, so a failure leaves at most `in_flight - 1`
    later batches delivered and unrecorded. After a failure nothing more is recorded, and the error is
    raised to the caller at its next `submit` or at `close`. Jobs still queued when the caller fails are
    dropped (a retry resumes their bundles).
    """

    def __init__(self, in_flight: int = 1, depth: int = SEND_QUEUE_DEPTH) -> None:
        self._pool = ThreadPoolExecutor(in_flight, thread_name_prefix="td-send") if in_flight > 1 else None
        self._window = threading.Semaphore(in_flight)
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=depth + in_flight - 1)
        self._error: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="td-sender", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            send, then, sent = job
            try:
                if self._error is None and not self._stopped:
                    then(sent.result() if sent is not None else send() if send is not None else None)
                elif sent is not None:
                    sent.cancel()
            except BaseException as error:  # handed to the caller's thread
                self._error = error
            finally:
                if sent is not None:
                    self._window.release()

    def submit(self, then: Callable[[Any], None], send: Callable[[], Any] | None = None) -> None:
        """Run `then(send())`: `send` on a sending thread, `then` in submission order."""
        if self._error is not None:
            raise self._error
        sent = None
        if self._pool is not None and send is not None:
            self._window.acquire()
            if self._error is not None:  # it failed while this waited for room
                self._window.release()
                raise self._error
            sent = self._pool.submit(send)
        self._queue.put((send, then, sent))

    def close(self) -> None:
        """Wait until every submitted job has run; raise the first failure."""
        self._queue.put(None)
        self._thread.join()
        self._shutdown()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop after the requests in flight; drop the rest."""
        self._stopped = True
        self._queue.put(None)
        self._thread.join()
        self._shutdown()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


_Job = tuple[Callable[[], Any] | None, Callable[[Any], None], Future | None]
