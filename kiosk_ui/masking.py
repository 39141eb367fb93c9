"""What the viewer may see of the data a view serialises: badge UIDs masked for anyone but an
admin, and a lead's reads limited to their own teams.

Applied where the data is turned into JSON, never by re-reading a response:
  - `ViewerJSON` is the app's JSON provider, so every `jsonify` (and every dict or list a view
    returns) is masked for the current viewer; on an endpoint whose policy line says
    `team_filtered`, a lead's list loses the rows of other teams (rows of no team, e.g. an
    unknown badge or an empty zone, stay) and a single row of another team is refused (403);
  - an event stream takes a `Viewer` when the request starts (its generator runs after the
    request context is gone) and asks it, update by update, `sees()` and `shown()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, has_request_context, jsonify, request
from flask.json.provider import DefaultJSONProvider

from hub.privacy import mask_tree
from kiosk_ui import state
from kiosk_ui.policy import access_for
from kiosk_ui.sessions import principal


class NotYourTeam(Exception):
    """A lead asked for one row of another team."""


def visible_teams() -> frozenset[str] | None:
    """Teams the current user may see and act on; None means all (admin)."""
    p = principal()
    if p is None:
        return frozenset()
    if p.role == "lead":
        return frozenset(p.teams)
    return None if p.role == "admin" else frozenset()


def _update_team(data: Any, agents: Mapping[str, str]) -> str | None:
    """The team a row or live update is about: its `team`, its agent's team, or its employee's."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("team"), str):
        return data["team"]
    agent = data.get("agent")
    if isinstance(agent, dict) and isinstance(agent.get("team"), str):
        return agent["team"]
    emp = data.get("employee_no") or (agent if isinstance(agent, str) else None)
    return agents.get(emp) if isinstance(emp, str) else None


@dataclass(frozen=True)
class Viewer:
    """One request's viewer, kept for as long as the response is being written."""

    reveal_uids: bool = True
    teams: frozenset[str] | None = None  # None: every team
    agent_teams: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def current(cls, *, updates: bool = False) -> Viewer:
        """The signed-in user of this request (nobody signed in: no auth layer, nothing hidden).
        `updates`: it will judge live updates, which may name only an agent (see `sees`)."""
        p = principal()
        if p is None:
            return cls()
        if p.role != "lead":
            return cls(reveal_uids=p.is_admin)
        agents = {a.employee_no: a.team for a in state.site().agents} if updates else {}
        return cls(reveal_uids=False, teams=frozenset(p.teams), agent_teams=agents)

    def shown(self, data: Any) -> Any:
        """`data` with badge UIDs masked unless the viewer may see them."""
        return data if self.reveal_uids else mask_tree(data)[0]

    def sees(self, update: Any) -> bool:
        """Whether a live update (or a row) is about the viewer's teams or no team at all."""
        if self.teams is None:
            return True
        team = _update_team(update, self.agent_teams)
        return team is None or team in self.teams

    def rows(self, data: Any) -> Any:
        """A team-filtered read: a list keeps the rows of the viewer's teams and of no team (by
        their `team` field); one row of another team is refused (NotYourTeam)."""
        if self.teams is None:
            return data
        if isinstance(data, list):
            return [r for r in data if not isinstance(r, dict) or r.get("team") in (None, *self.teams)]
        if isinstance(data, dict) and data.get("team") not in (None, *self.teams):
            raise NotYourTeam(f"team {data.get('team')!r} is not one of yours")
        return data


def _for_viewer(data: Any) -> Any:
    if not has_request_context() or principal() is None:
        return data
    viewer = Viewer.current()
    access = access_for(request.endpoint)
    if access is not None and access.team_filtered:
        data = viewer.rows(data)
    return viewer.shown(data)


class ViewerJSON(DefaultJSONProvider):
    """Flask's JSON, with every response body shaped for the viewer before it is written."""

    ensure_ascii = False

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if args and kwargs:
            raise TypeError("jsonify() behavior undefined when passed both args and kwargs")
        data = args[0] if len(args) == 1 else (args or kwargs)
        return super().response(_for_viewer(data))


def _not_your_team(exc: NotYourTeam) -> tuple[Response, int]:
    return jsonify({"error": "forbidden", "reason": str(exc)}), 403


def init_app(app: Flask) -> None:
    app.json = ViewerJSON(app)
    app.register_error_handler(NotYourTeam, _not_your_team)
