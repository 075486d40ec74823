"""The hot-list ledger (热搜/热榜): each collection of a hot-list source is a ranked snapshot.

A hot list is a source flagged `hotlist`; its feed lists entries in rank order (RSSHub's 微博热搜,
知乎热榜, 百度热搜, B站热搜 routes do). `record_snapshot` compares a snapshot with the entries on
the list and says what moved: an entry that `entered` the list, one that `rose` past a milestone
(top 10, top 3, first place) and one that `left` it, with its rank, best rank and minutes on the
list. The alert side (app/alerts/hotlist.py) turns those moves into 影响类 alerts for the topics
whose rules match the entry. A snapshot that fails or answers 304 changes nothing: an entry leaves
only when a later snapshot no longer lists it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.sources.models import HotListEntry

MILESTONES = (10, 3, 1)  # reaching one of these ranks for the first time in a stint is news


class HotListMove(StrEnum):
    """What happened to an entry between two snapshots."""

    ENTERED = "entered"  # on the list (again)
    ROSE = "rose"  # reached a milestone rank it had not reached in this stint
    LEFT = "left"  # no longer listed


@dataclass(frozen=True)
class SnapshotItem:
    """One entry of a snapshot: its rank (1 = top), post dedup key, title, link and stored post."""

    rank: int
    key: str
    title: str
    url: str | None
    post_id: int | None


@dataclass(frozen=True)
class HotListChange:
    """A move of one entry, with what an alert needs to say about it."""

    move: HotListMove
    source_id: int
    post_id: int | None
    title: str
    rank: int
    best_rank: int
    minutes_on_list: int  # in the current stint (for `left`: the stint that just ended)
    stints: int


def _milestone(rank: int) -> int | None:
    reached = [m for m in MILESTONES if rank <= m]
    return min(reached) if reached else None


def _minutes(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


def minutes_on_list(entry: HotListEntry, now: datetime) -> int:
    """Minutes the entry has spent on the list over all its stints, the current one included."""
    return entry.minutes_on_list + (_minutes(entry.entered_at, now) if entry.on_list else 0)


def record_snapshot(
    session: Session, source_id: int, items: Sequence[SnapshotItem], now: datetime
) -> list[HotListChange]:
    """Apply one ranked snapshot to the source's ledger; returns the moves it caused, top rank first.

    Duplicate keys in one snapshot keep their best (first) rank.
    """
    ranked: dict[str, SnapshotItem] = {}
    for item in sorted(items, key=lambda i: i.rank):
        ranked.setdefault(item.key, item)
    known = {
        entry.key: entry
        for entry in session.scalars(select(HotListEntry).where(HotListEntry.source_id == source_id))
        if entry.on_list or entry.key in ranked
    }
    changes: list[HotListChange] = []
    for key, item in ranked.items():
        entry = known.get(key)
        if entry is None or not entry.on_list:
            if entry is None:
                entry = HotListEntry(
                    source_id=source_id,
                    key=key,
                    first_seen_at=now,
                    stints=1,
                    minutes_on_list=0,
                )
                session.add(entry)
            else:
                entry.stints += 1
            entry.title, entry.url, entry.post_id = item.title, item.url, item.post_id or entry.post_id
            entry.rank = entry.best_rank = item.rank
            entry.on_list, entry.entered_at, entry.last_seen_at, entry.left_at = True, now, now, None
            changes.append(_change(HotListMove.ENTERED, entry, now))
            continue
        before = _milestone(entry.best_rank)
        entry.rank, entry.last_seen_at = item.rank, now
        entry.best_rank = min(entry.best_rank, item.rank)
        entry.post_id = entry.post_id or item.post_id
        after = _milestone(entry.best_rank)
        if after is not None and (before is None or after < before):
            changes.append(_change(HotListMove.ROSE, entry, now))
    for key, entry in known.items():
        if entry.on_list and key not in ranked:
            entry.on_list, entry.left_at = False, now
            entry.minutes_on_list += _minutes(entry.entered_at, now)
            changes.append(_change(HotListMove.LEFT, entry, now))
    session.flush()
    return sorted(changes, key=lambda c: (c.move != HotListMove.ENTERED, c.rank))


def _change(move: HotListMove, entry: HotListEntry, now: datetime) -> HotListChange:
    return HotListChange(
        move=move,
        source_id=entry.source_id,
        post_id=entry.post_id,
        title=entry.title,
        rank=entry.rank,
        best_rank=entry.best_rank,
        minutes_on_list=_minutes(entry.entered_at, now),
        stints=entry.stints,
    )


def entries(session: Session, source_id: int, *, limit: int = 100) -> list[HotListEntry]:
    """The source's entries: those on the list by rank, then those that left, most recent first."""
    stmt = (
        select(HotListEntry)
        .where(HotListEntry.source_id == source_id)
        .order_by(HotListEntry.on_list.desc(), HotListEntry.rank, HotListEntry.left_at.desc())
        .limit(limit)
    )
    found = list(session.scalars(stmt))
    on_list = [e for e in found if e.on_list]
    left = sorted(
        (e for e in found if not e.on_list), key=lambda e: e.left_at or e.last_seen_at, reverse=True
    )
    return on_list + left
