"""Answers of the fire-and-forget resync and bootstrap endpoints of every surface."""

from __future__ import annotations

import msgspec


class Enqueued(msgspec.Struct, frozen=True):
    """`{enqueued: true}` once the row is due again; false when there was no row to requeue."""

    enqueued: bool


class EnqueuedCount(msgspec.Struct, frozen=True):
    """`{enqueued: <count>}` of a bootstrap."""

    enqueued: int
