"""Whether the cluster an engine run drives is still there. The engine does not notice an API server (or etcd) that
went away in the middle of an update: its awaiters wait for good, and `up` hung 21 minutes until Ctrl-C (issue 28).
So meshinstall watches beside the engine and stops the run when the cluster stays gone.

How long "gone" is: DEAD_AFTER seconds without an answer, polled every POLL seconds. A managed control plane's
upgrade or a failover takes an API server away for some seconds; half a minute of silence is a cluster that is not
coming back within this run. Then the engine is asked to cancel, as on Ctrl-C (it ends what is in flight and saves
the state), and told to stop at once if it has not ended STOP_AFTER seconds later. A simulated cluster is not
restarted under the running engine: the next `up` restarts it on its data and converges, which the fault suite
shows, where a restart in place would leave the engine's awaiters on connections to the processes that died."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import kube
from .target import ClusterTarget

DEAD_AFTER = 30.0
POLL = 2.0
STOP_AFTER = 30.0
ANSWER_TIMEOUT = 5.0


class ClusterWatch:
    """Polls the cluster while an engine run goes on; `gone` says what died once it stopped the run for it."""

    def __init__(self, target: ClusterTarget, stop_engine: Callable[[], bool]) -> None:
        self.target, self.stop_engine = target, stop_engine
        self.gone: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cluster-watch", daemon=True)

    def missing(self) -> str | None:
        """What is wrong with the cluster now, or None when it answers."""
        plane = self.target.control_plane()
        if plane is not None and plane.created():
            dead = plane.dead()
            if dead:
                return f"the simulated cluster's {', '.join(dead)} stopped"
        try:
            api = kube.connect(self.target.kubeconfig, self.target.context)
            # /readyz: the API server and its storage (etcd) ready; any identity may ask (system:public-info-viewer)
            status, reason, _ = api.call("GET", "/readyz", [], {"Accept": "text/plain"}, None, ANSWER_TIMEOUT)
        except kube.FAILURES as err:
            return f"the API server does not answer ({str(err).splitlines()[0][:120]})"
        return None if status == 200 else f"the API server is not ready ({status} {reason})"

    def _watch(self) -> None:
        since: float | None = None
        while not self._done.wait(POLL):
            reason = self.missing()
            if reason is None:
                since = None
                continue
            since = since or time.monotonic()
            if time.monotonic() - since >= DEAD_AFTER:
                self.gone = f"{reason} for {DEAD_AFTER:.0f} s"
                self.stop_engine()
                if not self._done.wait(STOP_AFTER):
                    self.stop_engine()  # a second interrupt: the engine stops at once
                return


@contextmanager
def watching(target: ClusterTarget, stop_engine: Callable[[], bool]) -> Iterator[ClusterWatch]:
    """Watch `target` for the block (an engine run); `stop_engine` interrupts the engine."""
    watch = ClusterWatch(target, stop_engine)
    watch._thread.start()
    try:
        yield watch
    finally:
        watch._done.set()
        watch._thread.join()
