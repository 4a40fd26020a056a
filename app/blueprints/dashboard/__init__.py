"""The dashboard, the anonymous Explore page and the search box."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from app.blueprints.web import browsing_user, may_administer, paginate, signed_in_user
from app.extensions import db
from app.services import accounts, activities, browse

bp = Blueprint("dashboard", __name__)

RECENT_ACTIVITIES = 20


@bp.get("/")
def index():
    """Recent activities the user may see, their starred and team repositories, and the
    admin figures; anonymous visitors go to Explore (or sign-in), a new instance to sign-up."""
    user = signed_in_user()
    if user is None:
        if accounts.user_count() == 0:
            return redirect(url_for("auth.sign_up"))
        if current_app.config["ANONYMOUS_BROWSING"]:
            return redirect(url_for("dashboard.explore"))
        return redirect(url_for("auth.sign_in"))
    recent = db.session.scalars(activities.visible_to(user).limit(RECENT_ACTIVITIES)).all()
    starred = db.session.execute(browse.starred_repositories(user).limit(10)).all()
    team_repositories = paginate(browse.team_repositories(user), scalars=False, per_page=10)
    return render_template(
        "dashboard/index.html",
        recent=recent,
        starred=starred,
        team_repositories=team_repositories,
        statistics=browse.admin_statistics() if may_administer() else None,
    )


@bp.get("/explore")
def explore():
    """Public repositories for everyone, signed in or not (when anonymous browsing is on)."""
    browsing_user()
    query = request.args.get("q", "").strip()
    page = paginate(
        browse.repositories(None, query, public_only=True),
        scalars=False,
        total=browse.count_repositories(None, query, public_only=True),
    )
    return render_template("dashboard/explore.html", page=page, query=query)


@bp.get("/search")
def search():
    """Repositories, namespaces and teams matching ``q``, each as far as the user may see."""
    user = browsing_user()
    query = request.args.get("q", "").strip()[: browse.SEARCH_MAX]
    results = {"repositories": [], "namespaces": [], "teams": []}
    if query:
        results["repositories"] = db.session.execute(
            browse.repositories(user, query).limit(50)
        ).all()
        results["namespaces"] = db.session.scalars(browse.namespaces(user, query).limit(50)).all()
        results["teams"] = db.session.execute(browse.teams(user, query).limit(50)).all()
    return render_template("dashboard/search.html", query=query, **results)
