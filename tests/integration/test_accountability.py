"""Accountability: an issued report opens one rectification case, exactly once; feedback sets deadlines from the profile."""

from __future__ import annotations

import asyncio

import nats
import psycopg
import pytest

from dudao import bus
from dudao.consumer import durable_name
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from tests.conftest import eventually
from tests.factories import issued

pytestmark = pytest.mark.integration


def cases(settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM accountability.accountability_events WHERE topic LIKE '%RectificationCase.Opened'"
        ).fetchone()[0]


async def _redeliver_issued_report(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = bus.stream_name("inspection")
    last = await js.get_last_msg(stream, "dudao.500120.inspection.Activity.ReportIssued.>")
    headers = {k: v for k, v in last.headers.items() if not k.startswith("Nats-Expected")}
    await js.publish(last.subject, last.data, headers=headers | {bus.HEADER_MSG_ID: f"copy-{last.seq}"})
    await js.delete_consumer(stream, durable_name("accountability-open-case", "500120"))
    await nc.close()


async def _reaction_idle(url: str) -> bool:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(
            bus.stream_name("inspection"), durable_name("accountability-open-case", "500120")
        )
        return info.delivered.stream_seq > 0 and info.num_pending == 0 and info.num_ack_pending == 0
    except Exception:
        return False
    finally:
        await nc.close()


def test_an_issued_report_opens_one_case_even_under_redelivery_and_feedback_sets_profile_deadlines(
    settings, registry, serve, token
):
    inspection = serve(build_inspection(settings))
    first = serve(build_accountability(settings))
    issued(inspection, registry, token, settings, "璧山区青岚小学", "作业总量超标")
    with first.client(token()) as client:
        [case] = eventually(lambda: client.get("/v1/cases").json()["items"], what="the case opened")
    assert (case["unit_name"], len(case["items"]), case["status"]) == ("璧山区青岚小学", 1, "opened")
    first.__exit__(None, None, None)

    asyncio.run(_redeliver_issued_report(settings.nats_url))
    second = serve(build_accountability(settings))
    eventually(
        lambda: asyncio.run(_reaction_idle(settings.nats_url)), what="the reaction to see both copies of the report"
    )
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: conn.execute("SELECT count(*) FROM accountability.profile_copy").fetchone()[0] >= 3, what="profiles"
        )
    assert cases(settings) == 1

    with second.client(token()) as client:
        feedback = client.post(
            f"/v1/cases/{case['id']}/feedback",
            json={"mode": "written", "decision": "限期整改", "requirements": "公示作业总量", "given_on": "2026-10-25"},
        )
        again = client.post(
            f"/v1/cases/{case['id']}/feedback",
            json={"mode": "meeting", "decision": "x", "requirements": "y", "given_on": "2026-10-26"},
        )
    assert feedback.status_code == 200, feedback.text
    [item] = feedback.json()["items"]
    assert item["deadline"] == "2026-11-24" and item["status"] == "awaiting_report"  # 30 days, the national default
    assert again.status_code == 409 and again.json()["rule"] == "case_lifecycle"
