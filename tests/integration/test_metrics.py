"""What an ops team watches (dudao.metrics): events appended, relay lag, consumer lag, request latency; /readyz too."""

from __future__ import annotations

import pytest

from tests.conftest import eventually, measured
from tests.factories import school

pytestmark = pytest.mark.integration


def test_appended_events_are_counted_and_lags_fall_to_zero_once_everything_is_through(registry, token):
    before = measured("dudao.events.appended", service="registry", event="School.Registered") or 0
    with registry.client(token()) as client:
        for i in range(3):
            school(client, f"璧山区第{i}实验小学")
        ready = eventually(
            lambda: (
                (r := client.get("/readyz").json())["relay_lag"] == 0
                and r["consumers"]["registry-directory-v4"]["lag"] == 0
                and r["consumers"]["registry-directory-v4"]["processed"] >= 3
                and r
            ),
            what="the relay and the directory caught up",
        )
    assert measured("dudao.events.appended", service="registry", event="School.Registered") - before == 3
    assert measured("dudao.relay.lag", service="registry") == 0
    assert measured("dudao.consumer.lag", service="registry", consumer="registry-directory-v4") == 0
    assert ready["dead_letters"] == 0
    latency = [name for name in ("http.server.duration", "http.server.request.duration") if measured(name) is not None]
    assert latency, "no request latency histogram from the FastAPI instrumentation"


FOLLOWERS = {"registry-audit-v1", "registry-changes-v1", "registry-directory-v4"}


@pytest.mark.dead_letters
def test_readyz_is_degraded_while_a_dead_letter_is_unresolved_and_ok_once_resolved(
    registry, token, settings, monkeypatch
):
    import asyncio

    import nats

    from dudao import bus
    from dudao_cli.main import main

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
            return (
                r.status_code == 503 and FOLLOWERS <= {d["consumer"] for d in r.json()["unresolved_dead_letters"]} and r
            )

        degraded = eventually(settled, what="/readyz to say degraded")
        serving = client.get("/readyz", params={"serving": 1})
        letters = degraded.json()["unresolved_dead_letters"]
        assert degraded.json()["status"] == "degraded"
        assert all("malformed" in d["error"] for d in letters)
        assert serving.status_code == 200  # a load balancer keeps sending requests: the service answers
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
        ids = [str(d["id"]) for d in letters]
        with pytest.raises(SystemExit, match="not found or already resolved in registry: 999999"):
            main(
                ["dead-letters", "resolve", "registry", *ids, "999999", "--note", "a test's garbage; nothing to replay"]
            )
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok" and ready.json()["unresolved_dead_letters"] == []
    assert ready.json()["dead_letters"] == len(letters)  # resolved, not forgotten


def test_metrics_are_served_for_prometheus_and_the_dashboard_reads_only_what_is_served(registry, token):
    """Issue 22: /metrics in Prometheus' text format; every series deploy/grafana/dudao.json plots is one we serve."""
    import json
    import re
    from pathlib import Path

    from dudao import metrics

    with registry.client(token()) as client:
        school(client, "璧山区指标小学")
        eventually(  # a consumer's lag is served once known (after its first fetch; never for a stream not there)
            lambda: (
                (r := client.get("/readyz").json())["relay_lag"] == 0
                and any(c["lag"] is not None for c in r["consumers"].values())
            ),
            what="the relay caught up and a consumer's lag known",
        )
    with registry.client() as scraper:  # Prometheus scrapes without a token, as it probes /healthz
        scraped = scraper.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain"), scraped.text[:300]
    samples = [line for line in scraped.text.splitlines() if line and not line.startswith("#")]
    served = {re.split(r"[{ ]", line, maxsplit=1)[0] for line in samples}
    assert re.search(r'^dudao_events_appended_total\{[^}]*event="School.Registered"[^}]*\} \d+$', scraped.text, re.M), (
        scraped.text[:2000]
    )
    assert {"dudao_relay_lag", "dudao_consumer_lag", "dudao_consumer_processed_total"} <= served
    assert {"http_server_duration_bucket", "http_server_duration_count", "http_server_duration_sum"} <= served
    assert all(re.fullmatch(r'[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [-+0-9.eInf]+', line) for line in samples), samples[:5]

    documented = {name.replace(".", "_") for name in re.findall(r"`(dudao\.[a-z_.]+)`", metrics.__doc__)}
    dashboard = json.loads(
        Path(__file__).resolve().parents[2].joinpath("deploy/grafana/dudao.json").read_text(encoding="utf-8")
    )
    plotted = {
        name
        for p in dashboard["panels"]
        for t in p["targets"]
        for name in re.findall(r"\b((?:dudao|http_server)_[a-z_]+)", t["expr"])
    }
    assert plotted and not [
        n for n in plotted if n not in served and re.sub(r"_(total|bucket|count|sum)$", "", n) not in documented
    ]
    assert {
        "dudao_relay_lag",
        "dudao_consumer_lag",
        "dudao_consumer_dead_letters_total",
        "dudao_link_since_last_arrival",
    } <= plotted


def test_each_request_is_one_access_log_line_with_its_trace_id_and_never_a_body_a_token_or_a_value(
    registry, token, caplog
):
    """Issue 22: JSON access logs (route, status, latency, caller, trace id); the audit keeps the same trace id."""
    import json
    import logging

    from dudao.telemetry import JsonLogFormatter

    bearer = token()
    with caplog.at_level(logging.INFO, logger="dudao.access"), registry.client(bearer) as client:
        created = client.post(
            "/v1/schools",
            json={
                "name": "璧山区访问日志小学",
                "jurisdiction": "500120",
                "stage": "primary",
                "ownership": "public",
                "enrolment": 321,
            },
        )
        school_id = created.json()["id"]
        read = eventually(
            lambda: (r := client.get(f"/v1/schools/{school_id}", params={"q": "张三"})).status_code == 200 and r,
            what="the school read",
        )
        refused = client.get("/v1/schools", headers={"Authorization": "Bearer not-a-token"})
        audit = eventually(
            lambda: client.get("/v1/audit", params={"aggregate_id": school_id}).json()["items"], what="the audit entry"
        )
    lines = [JsonLogFormatter().format(r) for r in caplog.records if r.name == "dudao.access"]
    entries = [json.loads(line) for line in lines]
    post = next(e for e in entries if e["method"] == "POST" and e["route"] == "/v1/schools")
    assert (
        post["status"] == 201
        and post["latency_ms"] > 0
        and post["caller"] == {"sub": "tester", "roles": ["admin"], "jur": "500120"}
    )
    assert post["trace_id"] == created.headers["x-trace-id"] and len(post["trace_id"]) == 32
    assert audit[0]["trace_id"] == post["trace_id"]  # the audit says which request recorded the event
    get = [e for e in entries if e["route"] == "/v1/schools/{school_id}"][-1]
    assert get["status"] == 200 and get["trace_id"] == read.headers["x-trace-id"] != post["trace_id"]
    assert (
        next(e for e in entries if e["route"] == "/v1/schools" and e["status"] == 401)["caller"] is None
        and refused.status_code == 401
    )
    # what the server made up (a random trace id, the time, a latency) can hold any digits: "321" is looked for
    # everywhere else in each line
    made = ("trace_id", "time", "latency_ms")
    told = [json.dumps({k: v for k, v in e.items() if k not in made}, ensure_ascii=False) for e in entries]
    for secret in (bearer, "not-a-token", "张三", "访问日志小学", "321", school_id):
        assert not [line for line in told if secret in line], secret
