"""Namespaces: list, create in a team, description, visibility, transfer, delete."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.teams import render_team_page
from app.blueprints.web import (
    access_settings,
    browsing_user,
    commit_deletion,
    done,
    form_errors,
    paginate,
    plugins,
    registry_client,
    require_id,
    signed_in_user,
    unseen,
)
from app.extensions import db
from app.services import browse, deletion, namespaces, registries, teams
from app.services.errors import Forbidden, ServiceError

bp = Blueprint("namespaces", __name__, url_prefix="/namespaces")


def _viewable(namespace_id: int):
    """The namespace, if the visitor may pull from it (Forbidden otherwise)."""
    namespace = namespaces.get_namespace(namespace_id)
    try:
        namespaces.require_on(
            "namespace.view", browsing_user(), namespace, "", settings=access_settings()
        )
    except Forbidden:
        unseen(f"no namespace with id {namespace_id}")
    return namespace


def _show(namespace, errors=None, status=200):
    """The namespace page, optionally with a form's errors."""
    user = signed_in_user()
    can = namespaces.namespace_permissions(user, namespace, settings=access_settings())
    return render_template(
        "namespaces/show.html",
        namespace=namespace,
        repositories=paginate(
            browse.repositories(user, namespace_id=namespace.id),
            scalars=False,
            total=browse.count_repositories(user, namespace_id=namespace.id),
        ),
        can=can,
        teams=browse.team_choices(user) if can["namespace.change_team"] else [],
        errors=errors or {},
        form=request.form,
    ), status


@bp.get("/")
@login_required
def index():
    """Namespaces the user may list: their teams', protected and public ones."""
    query = request.args.get("q", "").strip()
    page = paginate(browse.namespaces(current_user, query))
    return render_template("namespaces/index.html", page=page, query=query)


@bp.post("/")
@login_required
def create():
    """Create a private namespace owned by a team (from the team page)."""
    form = request.form
    team = teams.get_team(require_id(form.get("team_id"), "team_id", "a team"))
    try:
        namespace = namespaces.create_namespace(
            plugins(),
            current_user,
            registries.get_registry_by_id(
                require_id(form.get("registry_id"), "registry_id", "a registry")
            ),
            team,
            form.get("name", ""),
            form.get("description"),
            settings=access_settings(),
        )
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return render_team_page(team, form_errors(error), 400)
    done(f"Namespace {namespace.name} created. It is private until you change its visibility.")
    return redirect(url_for("namespaces.show", namespace_id=namespace.id))


@bp.get("/<int:namespace_id>")
def show(namespace_id: int):
    """A namespace's repositories and settings (public ones also for anonymous visitors)."""
    return _show(_viewable(namespace_id))


def _act(namespace_id: int, action, success: str):
    """Run ``action(namespace)``; commit and go back, or show the error on the page."""
    namespace = _viewable(namespace_id)
    try:
        action(namespace)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _show(namespace, form_errors(error), 400)
    done(success)
    return redirect(url_for("namespaces.show", namespace_id=namespace.id))


@bp.post("/<int:namespace_id>/visibility")
@login_required
def change_visibility(namespace_id: int):
    """Make the namespace private, protected or public."""
    visibility = request.form.get("visibility", "")
    return _act(
        namespace_id,
        lambda ns: namespaces.change_visibility(
            plugins(), current_user, ns, visibility, settings=access_settings()
        ),
        f"Visibility is now {visibility}.",
    )


@bp.post("/<int:namespace_id>/description")
@login_required
def change_description(namespace_id: int):
    """Replace the description (Markdown)."""
    return _act(
        namespace_id,
        lambda ns: namespaces.change_description(
            plugins(),
            current_user,
            ns,
            request.form.get("description"),
            settings=access_settings(),
        ),
        "Description saved.",
    )


@bp.post("/<int:namespace_id>/team")
@login_required
def transfer(namespace_id: int):
    """Move the namespace to another team."""

    def move(ns):
        team_id = require_id(request.form.get("team_id"), "team_id", "a team")
        namespaces.transfer(
            plugins(), current_user, ns, teams.get_team(team_id), settings=access_settings()
        )

    return _act(namespace_id, move, "Namespace moved.")


@bp.post("/<int:namespace_id>/delete")
@login_required
def delete(namespace_id: int):
    """Delete the namespace and its images (in the registry too)."""
    namespace = _viewable(namespace_id)
    name = namespace.name
    try:
        with registry_client(namespace.host_registry) as client:
            commit_deletion(
                lambda: deletion.delete_namespace(
                    plugins(), current_user, namespace, settings=access_settings(), client=client
                )
            )
    except ServiceError as error:
        return _show(namespaces.get_namespace(namespace_id), form_errors(error), 400)
    done(f"Namespace {name} deleted.")
    return redirect(url_for("namespaces.index"))
