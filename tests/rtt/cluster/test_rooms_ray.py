"""Rooms on Ray: a room actor, two ingress applications (/a, /b), fake engines.

- a speaker on /a and listeners on /a and /b get identical commit sequences;
- the room's actor killed mid-talk (Ray restarts it): listeners reconnect with
  `since` and miss nothing, the journal's replay is exactly what each one has;
- an ingress replica killed: only its connections drop, and they resume through
  the other ingress with `since`.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from rtt.server.listener import ListenerState
from rtt.server.loopback import commits, speak_until_closed
from tests.rtt.server.helpers import speech

ray = pytest.importorskip("ray", reason="the ray extra (pip install 'rtt[ray]')")

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # pydantic, in Serve
]

JOIN = {"languages": ["de"], "source": True}
START = {"targets": ["de"], "receive": False}


async def listen(cluster, room: str, ingresses, *, ready=None, seen=None, limit=120.0):
    """A listener that reconnects with `since` (to the next ingress of `ingresses` each
    time) until `end` on every channel; every frame received and the connections made."""
    state = ListenerState(room, ("de",), source=True)
    frames: list[dict] = []
    connections: list[str] = []
    try:
        async with asyncio.timeout(limit):
            await _listen(cluster, state, ingresses, frames, connections, ready, seen)
    except TimeoutError:
        closes = [f for f in frames if f.get("type") in ("error", "end")]
        pytest.fail(f"no end after {limit:g} s; connections {connections}, {closes}")
    return frames, connections


async def _listen(cluster, state, ingresses, frames, connections, ready, seen) -> None:
    while True:
        ingress = ingresses[len(connections) % len(ingresses)]
        connections.append(ingress)
        try:
            async with connect(cluster.url(ingress), max_size=None) as ws:
                await ws.send(json.dumps(state.join()))
                async for text in ws:
                    frame = json.loads(text)
                    got = state.on_frame(frame)
                    if got.ready and ready is not None:
                        ready.set()
                    if frame.get("type") != "ready":
                        frames.append(frame)
                    if seen is not None:
                        seen(frame)
                    if got.over:
                        return
        except (WebSocketException, OSError):
            pass
        await asyncio.sleep(0.3)


async def replay(cluster, room: str, ingress: str = "b") -> list[dict]:
    """Every durable frame of the room's journal, as a listener with `since` 0 gets it."""
    join = {"type": "join", "room": room, **JOIN, "since": {"source": 0, "de": 0}}
    state = ListenerState(room, ("de",))
    frames = []
    async with connect(cluster.url(ingress), max_size=None) as ws:
        await ws.send(json.dumps(join))
        async for text in ws:
            frame = json.loads(text)
            if frame["type"] != "ready":
                frames.append(frame)
            if state.on_frame(frame).over:
                return frames
    return frames


def _durable(frames) -> list[tuple]:
    """The journaled frames, per channel in seq order (a replay serves channel after
    channel; live, they interleave). Duplicates stay, so equality means none twice."""
    kinds = ("source_commit", "target_commit", "target_append", "end")
    return sorted(
        (f["channel"], f["seq"], f["type"], f.get("text"))
        for f in frames
        if "seq" in f and f["type"] in kinds
    )


async def test_a_speaker_on_one_ingress_and_listeners_on_both_get_identical_commits(cluster):
    readies = [asyncio.Event() for _ in range(3)]
    listeners = [
        asyncio.create_task(listen(cluster, "same", [ingress], ready=ready))
        for ingress, ready in zip(("a", "b", "b"), readies)
    ]
    for ready in readies:
        await asyncio.wait_for(ready.wait(), 60)
    start = {"room": "same", "targets": ["de"]}
    spoken, code = await speak_until_closed(
        cluster.url("a"), speech(3), start=start, address="127.0.0.1"
    )
    assert code == 1000, spoken[-3:]
    heard = [frames for frames, _ in await asyncio.gather(*listeners)]
    source = commits(spoken, "source")
    german = commits(spoken, "de")
    assert len(source) >= 3 and len(german) >= 3  # one sentence per utterance, at least
    for frames in heard:
        assert commits(frames, "source") == source
        assert commits(frames, "de") == german


async def test_a_room_actor_killed_mid_talk_loses_no_commit(cluster):
    committed = asyncio.Event()
    count = 0

    def seen(frame):
        nonlocal count
        count += frame.get("type") == "source_commit"
        if count >= 2:
            committed.set()

    readies = [asyncio.Event(), asyncio.Event()]
    listeners = [
        asyncio.create_task(listen(cluster, "kill", order, ready=ready, seen=s))
        for order, ready, s in ((["a", "b"], readies[0], seen), (["b", "a"], readies[1], None))
    ]
    for ready in readies:
        await asyncio.wait_for(ready.wait(), 60)
    start = {"room": "kill", **START}
    speaker = asyncio.create_task(
        speak_until_closed(cluster.url("a"), speech(8), start=start, address="127.0.0.1", speed=2)
    )
    await asyncio.wait_for(committed.wait(), 60)
    actor = ray.get_actor("rtt-room-kill", namespace="rtt")
    ray.kill(actor, no_restart=False)
    spoken, code = await speaker
    assert code == 1011  # its room went away under it: room_restarted
    assert any(f.get("code") == "room_restarted" for f in spoken)
    # The speaker starts again, at once, on the other ingress: the restarted actor carries
    # on from its journal. That ingress may not have seen the restart yet (its long-poll is
    # still out): the actor refuses a start meant for its former incarnation, and the
    # session opens a new window instead of telling the speaker room_restarted.
    again, code = await speak_until_closed(
        cluster.url("b"), speech(2), start=start, address="127.0.0.1"
    )
    assert code == 1000, again
    heard = await asyncio.gather(*listeners)
    journal = _durable(await replay(cluster, "kill"))
    assert len([f for f in journal if f[2] == "source_commit"]) >= 4
    for frames, connections in heard:
        assert len(connections) >= 2  # each one was dropped and came back
        assert _durable(frames) == journal  # nothing missed, nothing twice


async def test_an_ingress_killed_drops_only_its_connections(cluster):
    from ray import serve

    committed = asyncio.Event()

    def seen(frame):
        if frame.get("type") == "source_commit":
            committed.set()

    readies = [asyncio.Event() for _ in range(3)]
    orders = (["a", "b"], ["a", "b"], ["b", "a"])
    listeners = [
        asyncio.create_task(listen(cluster, "drop", order, ready=ready, seen=seen))
        for order, ready in zip(orders, readies)
    ]
    for ready in readies:
        await asyncio.wait_for(ready.wait(), 60)
    start = {"room": "drop", **START}
    speaker = asyncio.create_task(
        speak_until_closed(cluster.url("b"), speech(6), start=start, address="127.0.0.1", speed=2)
    )
    await asyncio.wait_for(committed.wait(), 60)
    replicas = [n for n in ray.util.list_named_actors(all_namespaces=True) if _replica_of(n, "a")]
    assert replicas, ray.util.list_named_actors(all_namespaces=True)
    ray.kill(
        ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]), no_restart=True
    )
    _, code = await speaker
    assert code == 1000  # on /b: untouched
    heard = await asyncio.gather(*listeners)
    journal = _durable(await replay(cluster, "drop"))
    for (frames, connections), order in zip(heard, orders):
        assert _durable(frames) == journal
        assert len(connections) == (2 if order[0] == "a" else 1), connections
    async with asyncio.timeout(180):  # Serve replaces the dead replica: /a serves again
        while serve.status().applications["a"].status != "RUNNING":
            await asyncio.sleep(1)
    assert _durable(await replay(cluster, "drop", "a")) == journal  # through the new replica


def _replica_of(named: dict, app: str) -> bool:
    return named["name"].startswith(f"SERVE_REPLICA::{app}#")


async def test_a_window_that_missed_a_restart_does_not_seat_the_speaker(cluster):
    """The race of the test above, made certain: a replica's window whose poller has not
    yet seen its actor restart. The actor refuses a start meant for its former
    incarnation (nothing starts there); the window closes with room_restarted, to try again."""
    from pipeline.fakes import fake_registry
    from rtt.cluster.room_actor import NAMESPACE
    from rtt.server.protocol import Close, ProtocolError

    rooms, config = _replica_rooms(cluster)
    window = rooms.get("stale", speaker=True)
    await window.read_since("source", 0)  # the window opens: it knows this incarnation
    window._poller.cancel()  # its long-poll is still out: it cannot notice the restart
    before = window._state["incarnation"]
    actor = ray.get_actor("rtt-room-stale", namespace=NAMESPACE)
    ray.kill(actor, no_restart=False)
    for _ in range(240):  # until Ray has restarted it (calls fail meanwhile)
        try:
            if (await actor.hello.remote("test"))["incarnation"] != before:
                break
        except Exception:
            pass
        await asyncio.sleep(0.25)
    with pytest.raises(ProtocolError) as refused:
        await window.start(config, fake_registry())
    assert (refused.value.code, refused.value.close) == ("room_restarted", Close.TRY_AGAIN)
    assert not window.speaking
    fresh = rooms.get("stale", speaker=True)  # the lost window gave up the name
    assert fresh is not window
    source = await fresh.start(config, fake_registry())  # the restarted actor takes the speaker
    source.end()
    await asyncio.wait_for(fresh.task, 60)
    await rooms.close()


async def test_an_idle_room_actor_ends_and_a_new_one_reopens_its_journal(cluster):
    """A room no one uses ends its actor (a plain stream's would otherwise stay forever);
    the next session makes a new actor, and `since` still finds every commit."""
    from pipeline.fakes import fake_registry
    from rtt.cluster.room_actor import NAMESPACE

    rooms, config = _replica_rooms(cluster, seat_lease=2.0, idle_exit=3.0)
    room = rooms.get("idle", speaker=True)
    source = await room.start(config, fake_registry())
    await source.feed(np.frombuffer(speech(2), "<i2").astype(np.float32) / 32768)
    source.end()
    await asyncio.wait_for(room.task, 60)
    said = await room.read_since("source", 0)
    assert said
    rooms.release(room)  # no one left here: the window closes and stops polling
    for _ in range(120):
        try:
            ray.get_actor("rtt-room-idle", namespace=NAMESPACE)
        except ValueError:
            break  # gone, and its name with it
        await asyncio.sleep(0.5)
    else:
        pytest.fail("an idle room's actor is still there after 60 s")
    again = rooms.get("idle")
    assert await again.read_since("source", 0) == said  # a new actor, the same journal
    await rooms.close()


def _replica_rooms(cluster, **settings):
    """This process as an ingress replica: its `RayRooms` on the cluster's room actors
    (fake engines), and the pipeline config a speaker starts with."""
    from pipeline.fakes import fake_config, fake_registry
    from rtt.cluster.remote_room import RayRooms
    from rtt.cluster.room_actor import RoomSettings
    from rtt.server.metrics import ServerMetrics
    from rtt.server.rooms import Limits

    rooms = RayRooms(
        journal=cluster.journal,
        limits=Limits(),
        metrics=ServerMetrics(),
        settings=RoomSettings(journal=cluster.journal, **settings),
        registry_factory=fake_registry,
    )
    return rooms, fake_config(cluster.journal.parent / "models")
