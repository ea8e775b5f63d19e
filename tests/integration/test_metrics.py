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
            and r["consumers"]["registry-directory-v4"]["lag"] == 0 and r["consumers"]["registry-directory-v4"]["processed"] >= 3 and r,
            what="the relay and the directory caught up",
        )  # fmt: skip
    assert measured("dudao.events.appended", service="registry", event="School.Registered") - before == 3
    assert measured("dudao.relay.lag", service="registry") == 0
    assert measured("dudao.consumer.lag", service="registry", consumer="registry-directory-v4") == 0
    assert ready["dead_letters"] == 0
    latency = [name for name in ("http.server.duration", "http.server.request.duration") if measured(name) is not None]
    assert latency, "no request latency histogram from the FastAPI instrumentation"



FOLLOWERS = {"registry-audit-v1", "registry-changes-v1", "registry-directory-v4"}


@pytest.mark.dead_letters
def test_readyz_is_degraded_while_a_dead_letter_is_unresolved_and_ok_once_resolved(registry, token, settings, monkeypatch):
    import asyncio

    import nats

    from dudao import bus
    from dudao.cli import main

    async def publish_garbage() -> None:
        nc = await nats.connect(settings.nats_url)
        try:  # a message no read model can read, on a subject the directory follows
            await nc.jetstream().publish(bus.subject("500120", "registry", "School", "Registered"), b"{not json")
        finally:
            await nc.close()

    with registry.client(token()) as client:
        school(client, "璧山区就绪实验小学")  # the stream exists once the relay has published
        eventually(lambda: client.get("/readyz").json()["relay_lag"] == 0, what="the relay")
        asyncio.run(publish_garbage())

        def settled():  # degraded, and each read model that follows School events past the garbage
            r = client.get("/readyz")
            return r.status_code == 503 and FOLLOWERS <= {d["consumer"] for d in r.json()["unresolved_dead_letters"]} and r

        degraded = eventually(settled, what="/readyz to say degraded")
        serving = client.get("/readyz", params={"serving": 1})
        letters = degraded.json()["unresolved_dead_letters"]
        assert degraded.json()["status"] == "degraded"
        assert all("malformed" in d["error"] for d in letters)
        assert serving.status_code == 200  # a load balancer keeps sending requests: the service answers
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
        ids = [str(d["id"]) for d in letters]
        with pytest.raises(SystemExit, match="not found or already resolved in registry: 999999"):
            main(["dead-letters", "resolve", "registry", *ids, "999999", "--note", "a test's garbage; nothing to replay"])
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok" and ready.json()["unresolved_dead_letters"] == []
    assert ready.json()["dead_letters"] == len(letters)  # resolved, not forgotten
