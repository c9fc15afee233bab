"""Topics and polled profiles mapped to consent changes (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from app.klaviyo.webhooks import topics
from app.klaviyo.webhooks.inbox import decode_delivery, event_time
from app.klaviyo.webhooks.polling import klaviyo_time, polled_row
from tests.klaviyo.webhooks.records import event_payload

AT = datetime(2026, 5, 2, 8, 30, 15, 123456, tzinfo=UTC)


def _profile(consent="SUBSCRIBED", suppression=(), last_updated="2026-05-02T08:30:15+00:00"):
    return {
        "type": "profile",
        "id": "01P",
        "attributes": {
            "email": "zoe@example.com",
            "external_id": "c-1",
            "updated": last_updated,
            "subscriptions": {
                "email": {
                    "marketing": {
                        "consent": consent,
                        "consent_timestamp": "2026-05-01T10:00:00+00:00",
                        "last_updated": last_updated,
                        "suppression": [
                            {"reason": r, "timestamp": "2026-05-02T08:00:00+00:00"}
                            for r in suppression
                        ],
                    }
                }
            },
        },
    }


def test_every_consent_topic_has_a_meaning_and_others_none():
    payload = event_payload(profile_id="01P", at=AT, email="zoe@example.com", external_id="c-1")
    kinds = {t: topics.meaning_of(t, payload, AT) for t in topics.CONSENT_TOPICS}
    assert {
        t: (m.changes[0].kind, m.changes[0].subscribed, m.changes[0].reason)
        for t, m in kinds.items()
    } == {
        topics.SUBSCRIBED_TOPIC: ("consent", True, None),
        topics.UNSUBSCRIBED_TOPIC: ("consent", False, None),
        topics.SUPPRESSED_TOPIC: ("suppress", None, "manually_suppressed"),
        topics.BOUNCED_TOPIC: ("suppress", None, "bounced"),
        topics.SPAM_TOPIC: ("suppress", None, "marked_as_spam"),
        topics.UNSUPPRESSED_TOPIC: ("unsuppress", None, None),
    }
    ref = kinds[topics.SUBSCRIBED_TOPIC].profile
    assert (ref.klaviyo_profile_id, ref.external_id, ref.email) == ("01P", "c-1", "zoe@example.com")
    assert topics.meaning_of("event:klaviyo.clicked_email", payload, AT) is None


def test_event_time_prefers_the_sub_second_datetime():
    raw = msgspec.Raw(msgspec.json.encode(event_payload(profile_id="P", at=AT)))
    assert event_time(raw, datetime(2000, 1, 1, tzinfo=UTC)) == AT
    fallback = datetime(2000, 1, 1, tzinfo=UTC)
    assert event_time(msgspec.Raw(b'{"data": []}'), fallback) == fallback
    assert event_time(msgspec.Raw(b'{"data": {"attributes": {"timestamp": 1}}}'), fallback) == (
        datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    )


def test_delivery_items_keep_their_raw_payload():
    body = b'{"data":[{"topic":"t","external_id":"e","payload":{"x": [1, 2]}}],"meta":{}}'
    delivery = decode_delivery(body)
    assert bytes(delivery.data[0].payload) == b'{"x": [1, 2]}'


def test_polled_rows_are_deterministic_and_change_with_the_consent():
    first, again = polled_row(_profile()), polled_row(_profile())
    assert first is not None and again is not None
    assert first.external_id == again.external_id
    assert first.external_id != polled_row(_profile(consent="UNSUBSCRIBED")).external_id
    assert first.external_id != polled_row(_profile(suppression=("HARD_BOUNCE",))).external_id
    assert polled_row({"type": "profile", "id": "x", "attributes": {}}) is None


def test_polled_profile_means_consent_plus_suppression_state():
    row = polled_row(_profile(suppression=("UNSUBSCRIBE", "SPAM_COMPLAINT")))
    meaning = topics.meaning_of(row.topic, msgspec.json.decode(row.payload), row.event_at)
    assert [(c.kind, c.subscribed, c.reason) for c in meaning.changes] == [
        ("consent", True, None),
        ("suppress", None, "marked_as_spam"),
    ]
    assert meaning.changes[0].at == datetime(2026, 5, 1, 10, tzinfo=UTC)

    clear = polled_row(_profile(consent="NEVER_SUBSCRIBED"))
    meaning = topics.meaning_of(clear.topic, msgspec.json.decode(clear.payload), clear.event_at)
    assert [c.kind for c in meaning.changes] == ["unsuppress"]


def test_cursor_times_carry_no_plus_sign():
    assert klaviyo_time(AT) == "2026-05-02T08:30:15.123456Z"
