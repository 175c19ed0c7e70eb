"""Prometheus metrics (prometheus_client): request latency per endpoint, and the platform's figures at scrape time.

The histogram is counted in the worker that served the request. Under gunicorn with several workers set
PROMETHEUS_MULTIPROC_DIR (an empty directory, emptied at each start): each worker then writes its counts
there and a scrape adds them up (prometheus_client's multiprocess mode; deploy/gunicorn.conf.py marks a
dead worker's files). The figures — open and overdue tasks, the outbox, the scheduler's lease and ticks —
are read from the database at each scrape (`engine.operations`), so every worker answers the same.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from ipaddress import ip_address

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from engine.notify.outbox import FAILED, PENDING, RETRYING, SENDING
from engine.operations import Figures
from engine.settings import Settings

BACKLOG = (PENDING, RETRYING, SENDING)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Not registered globally: each scrape builds its registry (one process, or every worker's files).
REQUEST_SECONDS = Histogram(
    "relief_http_request_duration_seconds", "Time to answer a request, by Flask endpoint, method and status class",
    ["endpoint", "method", "status"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answered request; unmatched URLs share one label, so scanners cannot grow the series."""
    REQUEST_SECONDS.labels(endpoint or "unmatched", method, f"{status // 100}xx").observe(seconds)


def allowed(settings: Settings, remote: str | None, authorization: str | None) -> bool:
    """May this request read /metrics: the bearer of RELIEF_METRICS_TOKEN, or an address of RELIEF_METRICS_ALLOW."""
    token = settings.metrics_token
    if token and authorization is not None:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    try:
        address = ip_address(remote or "")
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_allow)


class FiguresCollector(Collector):
    """The platform's figures, as read from the database for this scrape."""

    def __init__(self, figures: Figures):
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        found = self.figures
        yield GaugeMetricFamily("relief_tasks_open", "Open tasks of running cases", value=found.open_tasks)
        yield GaugeMetricFamily("relief_tasks_overdue", "Open tasks past their due time or flagged overdue",
                                value=found.overdue_tasks)
        backlog = GaugeMetricFamily("relief_outbox_backlog", "Notices waiting to be sent (pending, retrying, sending)",
                                    labels=["channel"])
        failed = GaugeMetricFamily("relief_outbox_failed", "Notices whose delivery failed for good", labels=["channel"])
        channels = sorted({channel for channel, _ in found.outbox})
        for channel in channels:
            backlog.add_metric([channel], sum(found.outbox.get((channel, s), 0) for s in BACKLOG))
            failed.add_metric([channel], found.outbox.get((channel, FAILED), 0))
        yield backlog
        yield failed
        yield from self._scheduler()

    def _scheduler(self) -> Iterator[Metric]:
        lease = self.figures.lease
        yield GaugeMetricFamily("relief_scheduler_lease_fresh", "1 while a scheduler holds the lease and renews it",
                                value=1 if lease and lease.fresh else 0)
        if lease is None:
            return
        yield CounterMetricFamily("relief_scheduler_ticks", "Deadline ticks the lease's holders ran (0 again after "
                                  "a clean stop)", value=lease.ticks)
        yield GaugeMetricFamily("relief_scheduler_lease_expires_timestamp_seconds", "When the lease runs out",
                                value=lease.expires_at.timestamp())
        if lease.last_tick_at is not None:
            yield GaugeMetricFamily("relief_scheduler_last_tick_timestamp_seconds", "When the last deadline tick ended",
                                    value=lease.last_tick_at.timestamp())
        info = InfoMetricFamily("relief_scheduler_lease", "The scheduler process holding the lease")
        info.add_metric([], {"holder": lease.holder})
        yield info


def exposition(figures: Figures) -> bytes:
    """The text exposition of a scrape: request latencies (this process's, or all workers') and the figures."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(FiguresCollector(figures))
    return generate_latest(registry)

