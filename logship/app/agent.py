"""Agent: the lifecycle. Start, checkpoint periodically, and shut down without losing a line.

Shutdown (SIGTERM / SIGINT): stop reading (files deleted while open are first read to their
end: nothing could read them later), drain what is queued to the sinks, write the final
checkpoint, close the sinks, exit 0, all within `agent.shutdown_timeout`. What could not be
delivered in time is simply not checkpointed, so it is read again on the next start. A second
signal skips the drain, except in a worker process: there a second SIGTERM is the same stop
again (systemd's default `KillMode=control-group` signals every process of the service, and the
supervisor forwards its own), and the supervisor asks for the hurry with SIGINT.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from logship import __version__
from logship.app.config import Config
from logship.app.pipeline import Pipeline
from logship.core.process import tune_gc, tune_malloc
from logship.state.data_dir import StartupError
from logship.state.shard import SINGLE, Shard

log = logging.getLogger(__name__)


class Agent:
    """Runs one Pipeline until asked to stop."""

    def __init__(
        self,
        config: Config,
        pipeline: Pipeline | None = None,
        shard: Shard = SINGLE,
        config_path: Path | None = None,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._on_started = on_started
        """Called once the pipeline runs (a worker reports `ready` to its supervisor)."""
        self.pipeline = pipeline or Pipeline(config, shard=shard)
        self._worker = shard.count > 1
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._wake = threading.Event()
        self._reload = threading.Event()

    def request_stop(self) -> None:
        """Asks for a graceful shutdown (a second call skips draining)."""
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Asks for the config file to be read again (SIGHUP)."""
        self._reload.set()
        self._wake.set()

    def run(self) -> int:
        """Opens and starts the pipeline, runs until stopped; the process exit code."""
        self._install_signals()
        tune_malloc()
        p = self.pipeline
        p.open()
        tune_gc()
        p.start()
        log.info(
            "Agent started.",
            extra={
                "version": __version__,
                "inputs": [i.name for i in self.config.inputs],
                "sinks": [s.name for s in self.config.sinks],
                "data_dir": str(self.config.agent.data_dir),
            },
        )
        if self._on_started is not None:
            self._on_started()
        code = 0
        try:
            while not self._stop.is_set():
                self._wake.wait(self.config.agent.checkpoint_interval)
                self._wake.clear()
                if self._stop.is_set():
                    break
                if self._reload.is_set():
                    self._reload.clear()
                    self._apply_reload()
                p.checkpoint()
                p.health.beat()
                if fatal := p.exactly_once.fatal():
                    log.error("A sink cannot go on; stopping.", extra={"reason": fatal})
                    self._hurry.set()  # a fenced sink can deliver nothing more: do not drain
                    code = 1
                    break
                if not p.tailer.is_alive() or not all(w.is_alive() for w in p.workers):
                    log.error("A pipeline thread died; shutting down.")
                    code = 1
                    break
        finally:
            self.shutdown()
        return code

    def shutdown(self) -> bool:
        """Stops reading, drains the queues, writes the final checkpoint. True if fully drained.

        The order is the pipeline's (`Pipeline.stop`); a second stop request skips draining."""
        log.info(
            "Shutting down: draining queues.",
            extra={"timeout_s": self.config.agent.shutdown_timeout},
        )
        drained = self.pipeline.stop(self.config.agent.shutdown_timeout, self._hurry)
        log.info("Agent stopped.", extra={"drained": drained})
        return drained

    def _apply_reload(self) -> None:
        """Reads the config file again; an invalid one is reported and the running one kept."""
        if self.config_path is None:
            log.warning("Reload asked for, but the agent was not started from a config file.")
            return
        from logship.app.config_file import ConfigError, load_config

        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error(
                "Reload failed; the running config is kept.",
                extra={"config": str(self.config_path), "problems": exc.problems},
            )
            return
        try:
            restart_needed = self.pipeline.reload(config)
        except StartupError as exc:  # a GeoIP database that cannot be read: nothing changed yet
            log.error(
                "Reload failed; the running config is kept.",
                extra={"config": str(self.config_path), "problems": str(exc)},
            )
            return
        log.info(
            "Config reloaded: inputs and parser rules applied.",
            extra={"config": str(self.config_path), "needs_restart": restart_needed},
        )
        if restart_needed:
            log.warning(
                "Some changed settings only take effect after a restart.",
                extra={"sections": restart_needed},
            )

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("Signal received.", extra={"signal": signal.Signals(signum).name})
            if self._worker and signum == signal.SIGTERM and self._stop.is_set():
                return  # the same stop from another sender (see the module's docstring)
            self.request_stop()

        def on_hangup(signum: int, frame: FrameType | None) -> None:
            log.info("Signal received.", extra={"signal": "SIGHUP"})
            self.request_reload()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGHUP, on_hangup)
        # A worker process starts with SIGHUP blocked (logship.app.supervisor): one that arrived
        # meanwhile is delivered now, to the handler.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
