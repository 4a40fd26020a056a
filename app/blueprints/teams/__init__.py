"""Teams: list, create, edit, delete, members (with typeahead) and their namespaces."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.web import access_settings, done, form_errors, paginate, plugins, unseen
from app.extensions import db
from app.models.enums import Role
from app.services import accounts, browse, registries, teams
from app.services.errors import Forbidden, ServiceError

bp = Blueprint("teams", __name__, url_prefix="/teams")


@bp.before_request
@login_required
def require_login():
    """Every team page needs a signed-in user."""


def _require_view(team) -> None:
    """A 404, as for a missing team, unless the user may view ``team`` (hidden teams and
    other people's teams do not reveal that they exist)."""
    try:
        teams.require_on_team("team.view", current_user, team, "", settings=access_settings())
    except Forbidden:
        unseen(f"no team with id {team.id}")


def _visible_team(team_id: int):
    """The team, if the user may view it (Forbidden otherwise)."""
    team = teams.get_team(team_id)
    _require_view(team)
    return team


def render_team_page(team, errors=None, status=200):
    """The team page (after checking the user may view it), optionally with a form's
    errors; the namespace form on it posts elsewhere and comes back here."""
    _require_view(team)
    return render_template(
        "teams/show.html",
        team=team,
        members=teams.members(team),
        namespaces=teams.owned_namespaces(team),
        can=teams.team_permissions(current_user, team, settings=access_settings()),
        roles=[r.name.lower() for r in Role],
        registries=registries.all_registries(),
        errors=errors or {},
        form=request.form,
    ), status


def _index_page(errors=None, status=200):
    """The team list with the creation form (when the user may create teams)."""
    page = paginate(browse.teams(current_user, request.args.get("q", "").strip()), scalars=False)
    may_create = teams.may_create_team(current_user, settings=access_settings())
    return render_template(
        "teams/index.html",
        page=page,
        may_create=may_create,
        errors=errors or {},
        form=request.form,
    ), status


@bp.get("/")
def index():
    """The teams the user belongs to (every visible team for an admin)."""
    return _index_page()


@bp.post("/")
def create():
    """Create a team; its creator becomes its owner."""
    try:
        team = teams.create_team(
            plugins(),
            current_user,
            request.form.get("name", ""),
            request.form.get("description"),
            settings=access_settings(),
        )
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _index_page(form_errors(error), 400)
    done(f"Team {team.name} created. Add a namespace and members next.")
    return redirect(url_for("teams.show", team_id=team.id))


@bp.get("/<int:team_id>")
def show(team_id: int):
    """Members, roles and namespaces of one team."""
    return render_team_page(_visible_team(team_id))


def _act(team_id: int, action, success: str):
    """Run ``action(team)``; commit and go back to the team page, or show the error."""
    team = _visible_team(team_id)
    try:
        action(team)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return render_team_page(team, form_errors(error), 400)
    done(success)
    return redirect(url_for("teams.show", team_id=team.id))


@bp.post("/<int:team_id>/edit")
def edit(team_id: int):
    """Rename the team or change its description."""
    form = request.form
    return _act(
        team_id,
        lambda team: teams.edit_team(
            plugins(),
            current_user,
            team,
            name=form.get("name"),
            description=form.get("description"),
            settings=access_settings(),
        ),
        "Team saved.",
    )


@bp.post("/<int:team_id>/delete")
def delete(team_id: int):
    """Delete a team that no longer owns namespaces."""
    team = _visible_team(team_id)
    name = team.name
    try:
        teams.delete_team(plugins(), current_user, team, settings=access_settings())
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return render_team_page(team, form_errors(error), 400)
    done(f"Team {name} deleted.")
    return redirect(url_for("teams.index"))


@bp.post("/<int:team_id>/members")
def add_member(team_id: int):
    """Add a user with a role (an admin always becomes owner)."""
    form = request.form

    def add(team):
        user = accounts.user_to_add(form.get("username", ""))
        teams.add_member(
            plugins(),
            current_user,
            team,
            user,
            form.get("role", "viewer"),
            settings=access_settings(),
        )

    return _act(team_id, add, f"{form.get('username', '').strip()} added.")


@bp.post("/<int:team_id>/members/<username>/role")
def change_role(team_id: int, username: str):
    """Give a member another role (the last owner stays owner)."""
    return _act(
        team_id,
        lambda team: teams.change_role(
            plugins(),
            current_user,
            team,
            accounts.get_user(username),
            request.form.get("role", ""),
            settings=access_settings(),
        ),
        f"Role of {username} changed.",
    )


@bp.post("/<int:team_id>/members/<username>/remove")
def remove_member(team_id: int, username: str):
    """Take a member out of the team (not the last owner)."""
    return _act(
        team_id,
        lambda team: teams.remove_member(
            plugins(), current_user, team, accounts.get_user(username), settings=access_settings()
        ),
        f"{username} removed from the team.",
    )


@bp.get("/<int:team_id>/typeahead")
def typeahead(team_id: int):
    """Usernames to suggest when adding a member (owners and admins only)."""
    team = _visible_team(team_id)
    teams.require_on_team(
        "team.manage_members",
        current_user,
        team,
        "only owners may add members",
        settings=access_settings(),
    )
    return jsonify(browse.user_suggestions(request.args.get("q", "").strip(), exclude_team=team))
