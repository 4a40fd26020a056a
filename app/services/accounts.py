"""Accounts: create users with their personal team and namespaces, passwords, admin flag."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import Namespace, Registry, Team, TeamMember, User
from app.models.enums import NamespaceKind, Role, Visibility
from app.models.user import new_security_stamp
from app.services import activities, credentials, names
from app.services.access import require
from app.services.authentication import find_user
from app.services.errors import Conflict, Forbidden, Invalid, NotFound

PASSWORD_MIN = 8
PASSWORD_MAX = 128


def hash_password(password: str) -> str:
    """A salted scrypt hash (werkzeug's default KDF) of a password that passed the rules."""
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        raise Invalid(
            f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters", field="password"
        )
    if password.startswith(credentials.APPLICATION_TOKEN_PREFIX):
        raise Invalid(
            f"a password may not start with {credentials.APPLICATION_TOKEN_PREFIX!r} "
            "(that marks application tokens)",
            field="password",
        )
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def password_matches(user: User, password: str) -> bool:
    """Run the KDF and compare (constant time inside werkzeug); False without a password."""
    if not user.password_hash or not password:
        return False
    return check_password_hash(user.password_hash, password)


def get_user(username: str) -> User:
    """The user with this name, or NotFound."""
    user = find_user(username)
    if user is None:
        raise NotFound(f"no user named {username!r}", field="username")
    return user


def user_to_add(username: str) -> User:
    """The user a form names (e.g. a new team member): a mistyped name is a field error
    on the form, not a missing page."""
    user = find_user((username or "").strip())
    if user is None:
        raise Invalid(f"there is no user named {username.strip()!r}", field="username")
    return user


def get_user_by_id(user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def _check_unique(username: str, email: str | None) -> None:
    """Raise Conflict when the username or e-mail address is taken."""
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise Conflict(f"username {username!r} is already taken", field="username")
    if email and db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise Conflict(f"e-mail address {email!r} is already in use", field="email")


def personal_team_name(user: User) -> str:
    """Hidden team names live outside the team-name grammar, so they never collide."""
    return f"~user:{user.id}"


def personal_team(user: User) -> Team | None:
    """The user's hidden personal team, if any (bots have none)."""
    return db.session.scalar(sa.select(Team).where(Team.name == personal_team_name(user)))


def ensure_personal_namespace(user: User, registry: Registry, plugins) -> Namespace:
    """Create (once) the user's private personal namespace in ``registry``.

    The name is the sanitised username, de-duplicated like Portus (``john``, ``john0``...).
    """
    team = personal_team(user)
    existing = db.session.scalar(
        sa.select(Namespace).where(
            Namespace.registry_id == registry.id,
            Namespace.team_id == team.id,
            Namespace.kind == NamespaceKind.PERSONAL,
        )
    )
    if existing is not None:
        return existing
    taken = set(
        db.session.scalars(sa.select(Namespace.name).where(Namespace.registry_id == registry.id))
    )
    namespace = Namespace(
        name=names.first_free_name(names.namespace_name_for(user.username), taken),
        registry_id=registry.id,
        team_id=team.id,
        kind=NamespaceKind.PERSONAL,
        visibility=Visibility.PRIVATE,
        description=f"This personal namespace belongs to {user.username}.",
    )
    db.session.add(namespace)
    db.session.flush()
    return namespace


def create_user(
    plugins,
    username: str,
    email: str | None,
    password: str | None,
    *,
    admin: bool = False,
    bot: bool = False,
    display_name: str | None = None,
    actor: User | None = None,
) -> User:
    """Create a user, their hidden personal team and a personal namespace per registry.

    Bots get no password, no personal team and no namespace (Portus 2.4); they log in
    with application tokens only. The caller commits.
    """
    names.check_username(username)
    email = names.check_email(email) if email else None
    if not bot and not email:
        raise Invalid("an e-mail address is required", field="email")
    password_hash = hash_password(password) if (password or not bot) else None
    _check_unique(username, email)
    user = User(
        username=username,
        email=email,
        password_hash=password_hash,
        admin=admin,
        bot=bot,
        display_name=display_name or None,
    )
    db.session.add(user)
    db.session.flush()
    if not bot:
        _create_personal_space(user, plugins)
    activities.record(
        plugins, "user.create", actor or user, "user", user.id, username, admin=admin, bot=bot
    )
    return user


def _create_personal_space(user: User, plugins) -> None:
    """The hidden personal team (user as owner) and a namespace in every registry."""
    team = Team(name=personal_team_name(user), hidden=True)
    team.members.append(TeamMember(user=user, role=Role.OWNER))
    db.session.add(team)
    db.session.flush()
    for registry in db.session.scalars(sa.select(Registry).order_by(Registry.id)):
        ensure_personal_namespace(user, registry, plugins)


def set_admin(plugins, user: User, admin: bool, actor: User | None = None) -> User:
    """Grant or revoke admin rights (records ``user.admin`` / ``user.unadmin``)."""
    if user.admin != admin:
        user.admin = admin
        activities.record(
            plugins,
            "user.admin" if admin else "user.unadmin",
            actor,
            "user",
            user.id,
            user.username,
        )
    return user


def set_password(plugins, user: User, password: str, actor: User | None = None) -> User:
    """Change the password and the security stamp (drops cached credentials, sessions and
    refresh tokens everywhere, since every instance compares the stamp)."""
    user.password_hash = hash_password(password)
    user.security_stamp = new_security_stamp()
    credentials.revoke_refresh_tokens(user)
    activities.record(
        plugins, "user.change_password", actor or user, "user", user.id, user.username
    )
    return user


def set_enabled(plugins, user: User, enabled: bool, actor: User | None = None) -> User:
    """Enable or disable a user. Disabling ends sessions and drops refresh tokens at once."""
    if user.enabled == enabled:
        return user
    user.enabled = enabled
    if not enabled:
        user.security_stamp = new_security_stamp()
        credentials.revoke_refresh_tokens(user)
    activities.record(
        plugins, "user.enable" if enabled else "user.disable", actor, "user", user.id, user.username
    )
    return user


def load_session_user(session_id: str) -> User | None:
    """flask-login loader: ``id:stamp``; a changed stamp (new password) ends old sessions."""
    user_id, _, stamp = (session_id or "").partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) < 10):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.security_stamp != stamp:
        return None
    return user


def user_count() -> int:
    """How many accounts exist (bots included)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def sign_up_open(signup_enabled: bool, first_user_admin: bool) -> bool:
    """Whether the sign-up page accepts a new account now.

    The very first account may always sign up while first-user-admin is on (that is how an
    instance gets its admin, as in Portus); later ones only while sign-up is enabled.
    """
    return signup_enabled or (first_user_admin and user_count() == 0)


def sign_up(
    plugins,
    username: str,
    email: str,
    password: str,
    *,
    signup_enabled: bool,
    first_user_admin: bool,
    display_name: str | None = None,
) -> User:
    """Create an account from the sign-up page; the first one becomes admin when
    ``first_user_admin`` is on and no admin exists yet (Portus's rule)."""
    if not sign_up_open(signup_enabled, first_user_admin):
        raise Forbidden("sign-up is switched off here: ask an administrator for an account")
    no_admin = not db.session.scalar(sa.select(User.id).where(User.admin.is_(True)).limit(1))
    return create_user(
        plugins,
        (username or "").strip(),
        (email or "").strip(),
        password,
        admin=first_user_admin and no_admin,
        display_name=(display_name or "").strip() or None,
    )


def update_profile(
    plugins, user: User, *, email: str, display_name: str | None, actor: User
) -> User:
    """Change e-mail address and display name (only the user themselves or an admin)."""
    require(
        "user.edit",
        actor,
        "only the user or an administrator may change this profile",
        settings=AccessSettings(),
        target_user_id=user.id,
    )
    email = (email or "").strip()
    email = names.check_email(email) if email or not user.bot else None  # bots: optional
    taken = sa.select(User.id).where(User.email == email, User.id != user.id)
    if email and db.session.scalar(taken):
        raise Conflict(f"e-mail address {email!r} is already in use", field="email")
    display_name = (display_name or "").strip() or None
    if display_name and len(display_name) > 255:
        raise Invalid("display name must be at most 255 characters", field="display_name")
    if (email, display_name) != (user.email, user.display_name):
        user.email, user.display_name = email, display_name
        activities.record(plugins, "user.update", actor, "user", user.id, user.username)
    return user


def change_own_password(plugins, user: User, current: str, new: str, confirmation: str) -> User:
    """The profile page's password change: the current password is required."""
    if not password_matches(user, current or ""):
        raise Invalid("the current password is wrong", field="current_password")
    if new != confirmation:
        raise Invalid("the two new passwords differ", field="password_confirmation")
    return set_password(plugins, user, new, actor=user)


def _enabled_admins() -> int:
    """How many enabled administrators exist."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.admin.is_(True), User.enabled.is_(True))
    )


def toggle_admin(plugins, actor: User, user: User) -> User:
    """Admin page: grant or revoke admin rights; never on oneself (Portus's rule), so an
    instance cannot lose its last admin by a click."""
    require(
        "user.toggle_admin",
        actor,
        "only administrators change admin rights, and not their own",
        settings=AccessSettings(),
        target_user_id=user.id,
    )
    if user.bot:
        raise Invalid("bots cannot be administrators", field="admin")
    return set_admin(plugins, user, not user.admin, actor=actor)


def toggle_enabled(plugins, actor: User, user: User) -> User:
    """Enable or disable an account (``user.enable`` / ``user.disable``: admins, or a user
    disabling themselves); the last enabled admin cannot be disabled (Portus's rule)."""
    action = "user.disable" if user.enabled else "user.enable"
    require(
        action,
        actor,
        "only administrators enable or disable other users",
        settings=AccessSettings(),
        target_user_id=user.id,
    )
    if user.enabled and user.admin and _enabled_admins() <= 1:
        raise Invalid("the last administrator cannot be disabled", field="enabled")
    return set_enabled(plugins, user, not user.enabled, actor=actor)


def admin_create_user(
    plugins, actor: User, username: str, email: str, password: str, *, bot: bool = False
) -> tuple[User, str | None]:
    """Admin page: create a user, or a bot with its first application token ("default",
    shown once); returns the user and that token (None for people)."""
    require("admin.access", actor, "only administrators create users", settings=AccessSettings())
    user = create_user(
        plugins,
        (username or "").strip(),
        (email or "").strip() or None,
        None if bot else password,
        bot=bot,
        actor=actor,
    )
    if not bot:
        return user, None
    _, plain = credentials.create_application_token(plugins, user, "default", actor=actor)
    return user, plain


def users_by_name() -> sa.Select:
    """Every user, by username (the admin list)."""
    return sa.select(User).order_by(User.username)


def find_user_by_reference(reference: str) -> User:
    """A user named by id, e-mail address or username (Portus's API took id or e-mail)."""
    reference = (reference or "").strip().replace("\x00", "")
    if reference.isascii() and reference.isdigit() and len(reference) < 10:
        return get_user_by_id(int(reference))
    column = User.email if "@" in reference and "." in reference else User.username
    user = db.session.scalar(sa.select(User).where(column == reference.lower()))
    if user is None and column is User.email:
        user = db.session.scalar(sa.select(User).where(User.username == reference))
    if user is None:
        raise NotFound(f"no user {reference!r}")
    return user


def personal_namespace_id(user: User) -> int | None:
    """The id of the user's personal namespace in the first registry (None for bots)."""
    return db.session.scalar(
        sa.select(Namespace.id)
        .join(Team, Team.id == Namespace.team_id)
        .where(Team.name == personal_team_name(user), Namespace.kind == NamespaceKind.PERSONAL)
        .order_by(Namespace.registry_id)
        .limit(1)
    )


def admin_update_user(
    plugins,
    actor: User,
    user: User,
    *,
    email: str | None = None,
    display_name: str | None = None,
    password: str | None = None,
    admin: bool | None = None,
    enabled: bool | None = None,
) -> User:
    """An administrator changes a user's profile, password, admin flag or enabled state
    (``None`` leaves a field alone); the admin-page rules about oneself still hold."""
    require("admin.access", actor, "only administrators edit users", settings=AccessSettings())
    if email is not None or display_name is not None:
        update_profile(
            plugins,
            user,
            email=email if email is not None else (user.email or ""),
            display_name=display_name if display_name is not None else user.display_name,
            actor=actor,
        )
    if password is not None:
        set_password(plugins, user, password, actor=actor)
    if admin is not None and admin != user.admin:
        toggle_admin(plugins, actor, user)
    if enabled is not None and enabled != user.enabled:
        toggle_enabled(plugins, actor, user)
    db.session.flush()
    return user


def _sole_owned_teams(user: User) -> list[str]:
    """Visible teams in which ``user`` is the only owner."""
    owners = (
        sa.select(sa.func.count())
        .select_from(TeamMember)
        .where(TeamMember.team_id == Team.id, TeamMember.role == Role.OWNER)
        .correlate(Team)
        .scalar_subquery()
    )
    return list(
        db.session.scalars(
            sa.select(Team.name)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(
                TeamMember.user_id == user.id,
                TeamMember.role == Role.OWNER,
                Team.hidden.is_(False),
                owners <= 1,
            )
            .order_by(Team.name)
        )
    )


def delete_user(plugins, actor: User, user: User) -> None:
    """Delete an account with its personal team and (empty) personal namespaces.

    Refused for oneself, for a user whose personal namespace still holds repositories and
    for the only owner of a team: each of those needs a visible decision first (Portus
    deleted the namespace's images silently). Records ``user.delete``.
    """
    from app.models import Repository

    require("admin.access", actor, "only administrators delete users", settings=AccessSettings())
    if actor.id == user.id:
        raise Invalid("you cannot delete your own account", field="user")
    team = personal_team(user)
    spaces = [] if team is None else _personal_namespaces(team)
    held = sa.select(Repository.id).where(Repository.namespace_id.in_([n.id for n in spaces]))
    if spaces and db.session.scalar(held.limit(1)):
        raise Invalid(
            f"the personal namespace of {user.username} still holds repositories: delete "
            "them first",
            field="user",
        )
    owned = _sole_owned_teams(user)
    if owned:
        raise Invalid(
            f"{user.username} is the only owner of team(s) {', '.join(owned)}: give them "
            "another owner first",
            field="user",
        )
    activities.record(plugins, "user.delete", actor, "user", user.id, user.username)
    for namespace in spaces:
        db.session.delete(namespace)
    db.session.flush()
    if team is not None:
        db.session.delete(team)
        db.session.flush()
        db.session.expire(user, ["memberships"])
    db.session.delete(user)
    db.session.flush()


def _personal_namespaces(team: Team) -> list[Namespace]:
    """The namespaces of a personal team (one per registry)."""
    return list(db.session.scalars(sa.select(Namespace).where(Namespace.team_id == team.id)))


def bootstrap_admin(
    plugins, username: str, email: str, password: str, *, first_user_admin: bool
) -> tuple[User, str]:
    """Create the first administrator with an application token named ``bootstrap``
    (Portus's ``POST /api/v1/users/bootstrap``); returns the user and the plain token.

    Only while no account exists and first-user-admin is on; otherwise Forbidden or
    Invalid. The caller commits.
    """
    if not first_user_admin:
        raise Forbidden("bootstrapping is switched off (WHARFINGER_FIRST_USER_ADMIN)")
    if user_count():
        raise Invalid("users exist already: bootstrapping is only for a new instance")
    user = create_user(
        plugins, (username or "").strip(), (email or "").strip(), password, admin=True
    )
    _, plain = credentials.create_application_token(plugins, user, "bootstrap", actor=user)
    return user, plain
