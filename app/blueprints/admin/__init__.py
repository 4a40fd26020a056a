"""Admin pages: users and bots, registries (with the first-run redirect), all activities
with CSV export, registry events that could not be applied, and diagnostics."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from app.blueprints.web import (
    access_settings,
    done,
    form_errors,
    keyset_page,
    may_administer,
    paginate,
    plugins,
    save_profile_form,
)
from app.extensions import db
from app.jobs import tasks
from app.models import Activity
from app.models.enums import EventStatus
from app.services import accounts, activities, browse, diagnostics, events, registries
from app.services.access import allowed_actions, require
from app.services.errors import ServiceError

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Pages an admin can still reach while no registry exists (everything else sends them to
# the registration form, as Portus did).
FIRST_RUN_EXEMPT = {"admin.new_registry", "admin.create_registry", "auth.sign_out", "static"}


@bp.before_request
@login_required
def require_admin():
    """Every admin page needs an administrator (the engine's ``admin.access``)."""
    require("admin.access", current_user, "administrators only", settings=access_settings())


@bp.before_app_request
def first_run():
    """Send an admin to registry registration until a registry exists."""
    if (
        request.endpoint
        and request.endpoint not in FIRST_RUN_EXEMPT
        and request.blueprint not in ("registry", "main", "errors", "metrics")
        and request.method == "GET"
        and may_administer()
        and not registries.all_registries()
    ):
        return redirect(url_for("admin.new_registry"))
    return None


@bp.get("/")
def index():
    """The admin overview: figures and links."""
    return render_template("admin/index.html", statistics=browse.admin_statistics())


# --- users --------------------------------------------------------------------------------


USER_ACTIONS = ("user.toggle_admin", "user.disable", "user.enable", "application_token.manage")


def _users_page(errors=None, form=None, status=200):
    """The user list with the creation form, optionally with a form's errors; each row
    offers only the toggles the engine allows the admin on that user."""
    page = paginate(accounts.users_by_name())
    settings = access_settings()
    can = {
        user.id: allowed_actions(
            current_user,
            USER_ACTIONS,
            settings=settings,
            target_user_id=user.id,
            target_is_bot=user.bot,
        )
        for user in page.items
    }
    return render_template(
        "admin/users.html", page=page, can=can, errors=errors or {}, form=form or {}
    ), status


@bp.get("/users")
def users():
    """Every account, with its state and the admin actions."""
    return _users_page()


@bp.post("/users")
def create_user():
    """Create a user (or a bot, whose first token is shown once)."""
    form = request.form
    bot = form.get("bot") == "1"
    try:
        user, token = accounts.admin_create_user(
            plugins(),
            current_user,
            form.get("username", ""),
            form.get("email", ""),
            form.get("password", ""),
            bot=bot,
        )
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _users_page(form_errors(error), form, 400)
    if token:
        return render_template("account/token_created.html", owner=user, token=token)
    done(f"User {user.username} created.")
    return redirect(url_for("admin.users"))


def _toggle(user_id: int, change) -> Response:
    """Apply an admin toggle to a user and go back to the list."""
    user = accounts.get_user_by_id(user_id)
    try:
        change(plugins(), current_user, user)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _users_page(form_errors(error), status=400)
    done(f"{user.username} updated.")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    """Change a user's e-mail address and display name."""
    user, errors = accounts.get_user_by_id(user_id), {}
    if request.method == "POST":
        errors = save_profile_form(user)
        if not errors:
            done(f"{user.username} saved.")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_edit.html", user=user, errors=errors, form=request.form
    ), 400 if errors else 200


@bp.post("/users/<int:user_id>/admin")
def toggle_admin(user_id: int):
    """Grant or revoke admin rights (never one's own)."""
    return _toggle(user_id, accounts.toggle_admin)


@bp.post("/users/<int:user_id>/enabled")
def toggle_enabled(user_id: int):
    """Enable or disable an account (not the last admin)."""
    return _toggle(user_id, accounts.toggle_enabled)


# --- registries -----------------------------------------------------------------------------


@bp.get("/registries")
def list_registries():
    """The registered registries and how to configure each."""
    return render_template("admin/registries.html", registries=registries.all_registries())


@bp.get("/registries/new")
def new_registry():
    """The registration form (the first-run page)."""
    first = not registries.all_registries()
    return render_template(
        "admin/registry_new.html", errors={}, form={"use_ssl": "1"}, first=first, problem=None
    )


@bp.post("/registries")
def create_registry():
    """Register a registry after checking it answers like one ("save anyway" skips it)."""
    form = request.form
    hostname, use_ssl = form.get("hostname", "").strip(), form.get("use_ssl") == "1"
    problem = None
    if form.get("force") != "1":
        try:
            hostname = registries.check_hostname(hostname)
            problem = diagnostics.probe_registry(hostname, use_ssl, current_app.config)
        except ServiceError as error:
            return _registry_form(form_errors(error), form)
    if problem:
        return _registry_form({"hostname": problem}, form, problem=problem)
    try:
        registry = registries.add_registry(
            plugins(),
            form.get("name", ""),
            hostname,
            external_hostname=form.get("external_hostname", "").strip() or None,
            use_ssl=use_ssl,
            actor=current_user,
        )
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _registry_form(form_errors(error), form)
    done(
        f"Registry {registry.name} registered. Configure it with "
        f"'wharfinger registry config {registry.name}'."
    )
    return redirect(url_for("admin.list_registries"))


def _registry_form(errors, form, problem=None):
    """The registration form again, with what went wrong."""
    first = not registries.all_registries()
    return render_template(
        "admin/registry_new.html", errors=errors, form=form, first=first, problem=problem
    ), 400


# --- activities, events, diagnostics ----------------------------------------------------------


@bp.get("/activities")
def list_activities():
    """Every activity, newest first (in the order they were recorded)."""
    page = keyset_page(activities.visible_to(current_user).order_by(None), Activity.id, 50)
    return render_template("admin/activities.html", page=page)


@bp.get("/activities.csv")
def activities_csv():
    """Every activity as CSV, streamed (unpaginated, as Portus's export)."""
    rows = db.session.scalars(activities.visible_to(current_user).execution_options(yield_per=1000))
    return Response(
        stream_with_context(activities.csv_lines(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=activities.csv"},
    )


@bp.get("/events")
def list_events():
    """Registry events that failed (or, with ?status=ignored, were ignored), and why."""
    wanted = request.args.get("status", "failed")
    status = EventStatus.IGNORED if wanted == "ignored" else EventStatus.FAILED
    return render_template(
        "admin/events.html", page=paginate(events.problem_events(status)), status=status
    )


@bp.post("/events/<int:event_id>/retry")
def retry_event(event_id: int):
    """Apply a failed event again (after its cause was fixed)."""
    events.retry(event_id)
    db.session.commit()
    current_app.extensions["wharfinger.jobs"].enqueue(tasks.apply_events, [event_id])
    done(f"Event {event_id} queued again.")
    return redirect(url_for("admin.list_events"))


@bp.get("/diagnostics")
def diagnostics_page():
    """``wharfinger doctor`` in the browser: every check with its fix."""
    runner = current_app.extensions["wharfinger.jobs"]
    findings = diagnostics.all_findings(
        current_app.config,
        current_app.extensions["wharfinger.tokens"],
        current_app.extensions["migrate"].directory,
        getattr(runner, "connection", None),
    )
    return render_template("admin/diagnostics.html", findings=findings)
