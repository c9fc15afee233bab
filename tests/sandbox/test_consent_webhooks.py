"""Consent: bulk jobs, the state machine, and signed consent webhooks with redelivery."""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies
from tests.sandbox.receiver import WebhookReceiver

UNSUBSCRIBED_TOPIC = "event:klaviyo.unsubscribed_from_email_marketing"
SECRET = "whsec-test-secret"


def _marketing(sandbox: SandboxControl, email: str) -> dict:
    profile = sandbox.find_profile(email=email)
    return profile["attributes"]["subscriptions"]["email"]["marketing"]


def _reasons(sandbox: SandboxControl, email: str) -> set[str]:
    return {s["reason"] for s in _marketing(sandbox, email)["suppression"]}


def test_subscribe_job_creates_and_subscribes(sandbox: SandboxControl) -> None:
    response = sandbox.api.post(
        "/api/profile-subscription-bulk-create-jobs", json=bodies.subscribe(["sub@example.com"])
    )
    assert response.status_code == 202
    assert response.content == b""
    sandbox.wait_jobs_done()
    marketing = _marketing(sandbox, "sub@example.com")
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["can_receive_email_marketing"] is True


def test_historical_import_keeps_consented_at(sandbox: SandboxControl) -> None:
    body = bodies.subscribe(["hist@example.com"], historical=True)
    assert (
        sandbox.api.post("/api/profile-subscription-bulk-create-jobs", json=body).status_code == 202
    )
    sandbox.wait_jobs_done()
    assert _marketing(sandbox, "hist@example.com")["consent_timestamp"].startswith(
        "2024-01-02T03:04:05"
    )
    body["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"]["email"][
        "marketing"
    ].pop("consented_at")
    response = sandbox.api.post("/api/profile-subscription-bulk-create-jobs", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"].endswith(
        "/email/marketing/consented_at"
    )


def test_unsubscribe_job_and_state_machine(sandbox: SandboxControl) -> None:
    sandbox.api.post(
        "/api/profile-subscription-bulk-create-jobs", json=bodies.subscribe(["u@example.com"])
    )
    sandbox.wait_jobs_done()
    sandbox.api.post(
        "/api/profile-subscription-bulk-delete-jobs", json=bodies.unsubscribe(["u@example.com"])
    )
    sandbox.wait_jobs_done()
    marketing = _marketing(sandbox, "u@example.com")
    assert marketing["consent"] == "UNSUBSCRIBED"
    assert _reasons(sandbox, "u@example.com") == {"UNSUBSCRIBE"}
    # Subscribing again lifts the unsubscribe suppression.
    sandbox.api.post(
        "/api/profile-subscription-bulk-create-jobs", json=bodies.subscribe(["u@example.com"])
    )
    sandbox.wait_jobs_done()
    assert _reasons(sandbox, "u@example.com") == set()


def test_subscribe_does_not_lift_a_hard_bounce(sandbox: SandboxControl) -> None:
    profile_id = sandbox.api.post("/api/profiles", json=bodies.profile("hb@example.com")).json()[
        "data"
    ]["id"]
    sandbox.consent(profile_id, "bounce")
    sandbox.consent(profile_id, "suppress")
    sandbox.api.post(
        "/api/profile-subscription-bulk-create-jobs", json=bodies.subscribe(["hb@example.com"])
    )
    sandbox.wait_jobs_done()
    assert _reasons(sandbox, "hb@example.com") == {"HARD_BOUNCE"}
    assert _marketing(sandbox, "hb@example.com")["can_receive_email_marketing"] is False


def test_suppression_jobs_and_job_reads(sandbox: SandboxControl) -> None:
    response = sandbox.api.post(
        "/api/profile-suppression-bulk-create-jobs", json=bodies.suppression(["sp@example.com"])
    )
    assert response.status_code == 202
    job = response.json()["data"]
    assert job["type"] == "profile-suppression-bulk-create-job"
    sandbox.wait_jobs_done()
    read = sandbox.api.get(f"/api/profile-suppression-bulk-create-jobs/{job['id']}").json()["data"]
    assert read["attributes"]["status"] == "complete"
    assert read["attributes"]["completed_count"] == 1
    assert _reasons(sandbox, "sp@example.com") == {"USER_SUPPRESSED"}

    response = sandbox.api.post(
        "/api/profile-suppression-bulk-delete-jobs",
        json=bodies.suppression(["sp@example.com"], delete=True),
    )
    assert response.status_code == 202
    sandbox.wait_jobs_done()
    assert _reasons(sandbox, "sp@example.com") == set()


def test_consent_job_limits(sandbox: SandboxControl) -> None:
    too_many = [f"l{n}@example.com" for n in range(1001)]
    assert (
        sandbox.api.post(
            "/api/profile-subscription-bulk-create-jobs", json=bodies.subscribe(too_many)
        ).status_code
        == 400
    )
    assert (
        sandbox.api.post(
            "/api/profile-subscription-bulk-delete-jobs", json=bodies.unsubscribe(too_many[:101])
        ).status_code
        == 400
    )
    assert (
        sandbox.api.post(
            "/api/profile-suppression-bulk-create-jobs", json=bodies.suppression(too_many[:101])
        ).status_code
        == 400
    )
    assert (
        sandbox.api.post(
            "/api/profile-suppression-bulk-delete-jobs",
            json=bodies.suppression(too_many[:101], True),
        ).status_code
        == 400
    )
    assert (
        sandbox.api.post(
            "/api/profile-subscription-bulk-delete-jobs", json=bodies.unsubscribe(too_many[:100])
        ).status_code
        == 202
    )


def test_consent_value_must_match_the_endpoint(sandbox: SandboxControl) -> None:
    body = bodies.subscribe(["w@example.com"])
    body["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"]["email"][
        "marketing"
    ]["consent"] = "UNSUBSCRIBED"
    response = sandbox.api.post("/api/profile-subscription-bulk-create-jobs", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == (
        "/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent"
    )


def test_webhook_is_signed_and_verifiable(sandbox: SandboxControl) -> None:
    with WebhookReceiver() as receiver:
        created = sandbox.api.post(
            "/api/webhooks", json=bodies.webhook(receiver.url, SECRET, [UNSUBSCRIBED_TOPIC])
        )
        assert created.status_code == 201
        webhook_id = created.json()["data"]["id"]
        assert "secret_key" not in created.json()["data"]["attributes"]
        profile_id = sandbox.api.post(
            "/api/profiles", json=bodies.profile("wh@example.com")
        ).json()["data"]["id"]
        sandbox.consent(profile_id, "subscribe")  # not a subscribed topic: no delivery
        assert sandbox.consent(profile_id, "unsubscribe")["topic"] == UNSUBSCRIBED_TOPIC
        sandbox.wait_for(lambda: receiver.requests)

    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    expected = hmac.new(
        SECRET.encode(), request["body"] + headers["klaviyo-timestamp"].encode(), hashlib.sha256
    ).hexdigest()
    assert headers["klaviyo-signature"] == expected
    assert headers["klaviyo-webhook-id"] == webhook_id
    body = json.loads(request["body"])
    [entry] = body["data"]
    assert entry["topic"] == UNSUBSCRIBED_TOPIC
    assert entry["payload"]["data"]["type"] == "event"
    assert entry["payload"]["data"]["id"] == entry["external_id"]
    assert entry["payload"]["data"]["relationships"]["profile"]["data"]["id"] == profile_id
    assert body["meta"]["klaviyo_webhook_id"] == webhook_id
    assert body["meta"]["klaviyo_account_id"] == sandbox.account_id
    assert body["meta"]["timestamp"]
    # The consent change is also an event in the account, as in Klaviyo.
    assert (
        sandbox.events(metric="Unsubscribed from Email Marketing")[0]["id"] == entry["external_id"]
    )


def test_redelivery_on_non_2xx_keeps_external_id(sandbox: SandboxControl) -> None:
    with WebhookReceiver(statuses=[500, 503]) as receiver:
        sandbox.add_webhook(receiver.url, SECRET, [UNSUBSCRIBED_TOPIC])
        profile_id = sandbox.api.post(
            "/api/profiles", json=bodies.profile("re@example.com")
        ).json()["data"]["id"]
        sandbox.consent(profile_id, "unsubscribe")
        sandbox.wait_for(lambda: len(receiver.requests) >= 3)
        sandbox.wait_for(lambda: sandbox.deliveries()[0]["state"] == "delivered")
    ids = [json.loads(r["body"])["data"][0]["external_id"] for r in receiver.requests]
    assert len(set(ids)) == 1
    assert sandbox.deliveries()[0]["statuses"] == [500, 503, 200]
    assert sandbox.stats()["webhook_deliveries"]["delivered"] == 1


def test_every_subscribed_webhook_gets_the_topic(sandbox: SandboxControl) -> None:
    with WebhookReceiver() as first, WebhookReceiver() as second, WebhookReceiver() as other:
        sandbox.add_webhook(first.url, "s1", [UNSUBSCRIBED_TOPIC])
        sandbox.add_webhook(second.url, "s2")  # all topics
        sandbox.add_webhook(other.url, "s3", ["event:klaviyo.bounced_email"])
        profile_id = sandbox.api.post(
            "/api/profiles", json=bodies.profile("all@example.com")
        ).json()["data"]["id"]
        sandbox.consent(profile_id, "unsubscribe")
        sandbox.wait_for(lambda: first.requests and second.requests)
    assert other.requests == []


def test_each_control_consent_action_has_its_topic(sandbox: SandboxControl) -> None:
    profile_id = sandbox.api.post("/api/profiles", json=bodies.profile("acts@example.com")).json()[
        "data"
    ]["id"]
    topics = [
        sandbox.consent(profile_id, a)["topic"]
        for a in ("subscribe", "unsubscribe", "suppress", "unsuppress", "bounce", "spam")
    ]
    assert topics == [
        "event:klaviyo.subscribed_to_email_marketing",
        "event:klaviyo.unsubscribed_from_email_marketing",
        "event:klaviyo.manually_suppressed_email",
        "event:klaviyo.manually_unsuppressed_email",
        "event:klaviyo.bounced_email",
        "event:klaviyo.marked_email_as_spam",
    ]
    # Repeating an action that changes nothing sends nothing.
    assert sandbox.consent(profile_id, "bounce")["topic"] is None


def test_webhooks_api_list_delete_and_topics(sandbox: SandboxControl) -> None:
    topics = sandbox.api.get("/api/webhook-topics").json()["data"]
    assert UNSUBSCRIBED_TOPIC in {t["id"] for t in topics}
    created = sandbox.api.post(
        "/api/webhooks",
        json=bodies.webhook("https://store.example.com/hook", "k", [UNSUBSCRIBED_TOPIC]),
    )
    webhook_id = created.json()["data"]["id"]
    assert [w["id"] for w in sandbox.api.get("/api/webhooks").json()["data"]] == [webhook_id]
    assert sandbox.api.delete(f"/api/webhooks/{webhook_id}").status_code == 204
    assert sandbox.api.get("/api/webhooks").json()["data"] == []
    assert sandbox.api.delete(f"/api/webhooks/{webhook_id}").status_code == 404
    bad = sandbox.api.post(
        "/api/webhooks", json=bodies.webhook("https://x.example.com", "k", ["event:nope"])
    )
    assert bad.status_code == 400
