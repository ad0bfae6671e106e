"""rtt on a Ray cluster (the `ray` extra): `rtt serve --ray`.

Two halves:
- rooms and sessions (`room_actor.py`, `remote_room.py`, `ingress.py`, `serve.py`):
  a named, detached actor per room owns its pipeline, seqs and journal; a Ray Serve
  deployment serves the same ASGI app as `rtt serve`, its rooms backend (`RayRooms`)
  sending a speaker's audio to the room's actor and relaying the room's frames to
  listeners on any ingress replica;
- engines (`engines.py`): the ASR and MT models as Ray Serve deployments that batch
  requests across streams, behind an `EngineRegistry`-compatible registry.
"""

from .ingress import Ingress, ingress_app, room_settings
from .remote_room import RayRooms, RemoteRoom, RoomLost
from .room_actor import NAMESPACE, RoomActor, RoomSettings, actor_name

__all__ = [
    "NAMESPACE",
    "Ingress",
    "RayRooms",
    "RemoteRoom",
    "RoomActor",
    "RoomLost",
    "RoomSettings",
    "actor_name",
    "ingress_app",
    "room_settings",
]
