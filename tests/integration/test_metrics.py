"""What an ops team watches (dudao.metrics): events appended, relay lag, consumer lag, request latency; /readyz too."""

from __future__ import annotations

import pytest

from tests.conftest import eventually, measured
from tests.integration.test_registry_places import school

pytestmark = pytest.mark.integration


def test_appended_events_are_counted_and_lags_fall_to_zero_once_everything_is_through(registry, token):
    before = measured("dudao.events.appended", service="registry", event="School.Registered") or 0
    with registry.client(token()) as client:
        for i in range(3):
            school(client, f"璧山区第{i}实验小学")
        ready = eventually(
            lambda: (r := client.get("/readyz").json())["relay_lag"] == 0
            and r["consumers"]["registry-directory-v3"]["lag"] == 0 and r["consumers"]["registry-directory-v3"]["processed"] >= 3 and r,
            what="the relay and the directory caught up",
        )  # fmt: skip
    assert measured("dudao.events.appended", service="registry", event="School.Registered") - before == 3
    assert measured("dudao.relay.lag", service="registry") == 0
    assert measured("dudao.consumer.lag", service="registry", consumer="registry-directory-v3") == 0
    assert ready["dead_letters"] == 0
    latency = [name for name in ("http.server.duration", "http.server.request.duration") if measured(name) is not None]
    assert latency, "no request latency histogram from the FastAPI instrumentation"

