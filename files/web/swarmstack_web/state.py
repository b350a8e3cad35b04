"""What the app factory builds once per process, reachable from the views."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis

from .config import Settings
from .store import RecordStore


@dataclass(frozen=True)
class AppState:
    settings: Settings
    redis: Redis
    store: RecordStore
    hostname: str


def get_state() -> AppState:
    state: AppState = current_app.extensions["swarmstack_web"]
    return state
