"""The one place that wires settings, store and services together. Nothing runs at import.

The edges (api, cli) never import the store themselves: what they need of it (opening it, and
``migrate-store``'s copy from SQLite into PostgreSQL) goes through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openleash import __version__
from openleash.config import Settings
from openleash.domain.errors import InvalidInputError
from openleash.service.agents import AgentSelf
from openleash.service.approvals import Approvals
from openleash.service.audit_query import Audit
from openleash.service.authorize import Authorizer
from openleash.service.authzen import AuthZen
from openleash.service.drafts import Drafts
from openleash.service.keys import Keys
from openleash.service.operator import Operator
from openleash.service.options import Options
from openleash.service.owner_auth import OwnerAccounts
from openleash.service.owner_policies import OwnerPolicies
from openleash.service.policies import Policies
from openleash.service.ports import Store
from openleash.service.public import Public
from openleash.service.registration import Registration
from openleash.service.runtime import Runtime
from openleash.service.usage import Usage
from openleash.store import MEMORY_URL, is_memory_url, is_postgres_url, open_store, store_path
from openleash.store import shown_url as shown_url
from openleash.store.copy import BATCH_ROWS as BATCH_ROWS
from openleash.store.copy import CopiedTable as CopiedTable
from openleash.store.copy import StoreMigration as StoreMigration
from openleash.store.copy import migrate_store


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    options: Options
    store: Store
    runtime: Runtime
    policies: Policies
    owner_policies: OwnerPolicies
    operator: Operator
    audit: Audit
    keys: Keys
    approvals: Approvals
    drafts: Drafts
    accounts: OwnerAccounts
    registration: Registration
    authorizer: Authorizer
    authzen: AuthZen
    usage: Usage
    public: Public
    agent_self: AgentSelf


def options_from(settings: Settings) -> Options:
    return Options(
        nonce_ttl_seconds=settings.nonce_ttl_seconds,
        clock_skew_seconds=settings.clock_skew_seconds,
        default_ttl_seconds=settings.default_ttl_seconds,
        max_ttl_seconds=settings.max_ttl_seconds,
        version=__version__,
        # Changes made by another process (the CLI, another worker) are seen within this time.
        config_refresh_seconds=0.1,
        audit_redact=settings.audit_redact,
        approval_request_ttl_seconds=settings.approval_request_ttl_seconds,
        approval_token_ttl_seconds=settings.approval_token_ttl_seconds,
        session_ttl_seconds=settings.session_ttl_seconds,
        require_totp=settings.require_totp,
        webhook_allow_private=settings.webhook_allow_private,
    )


async def open_services(settings: Settings, options: Options | None = None) -> Services:
    """Open the store (creating and migrating it if needed) and make sure a signing key exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(settings.database, timeout=settings.store_timeout_seconds)
    opts = options or options_from(settings)
    keys = Keys(store, opts)
    await keys.ensure()
    policies = Policies(store, opts)
    runtime = Runtime(store, opts.config_refresh_seconds)
    authorizer = Authorizer(store, runtime, opts)
    return Services(
        settings,
        opts,
        store,
        runtime,
        policies=policies,
        owner_policies=OwnerPolicies(store, opts),
        operator=Operator(store, policies, opts),
        audit=Audit(store),
        keys=keys,
        approvals=Approvals(store, runtime, opts),
        drafts=Drafts(store, opts),
        accounts=OwnerAccounts(store, runtime, opts),
        registration=Registration(store, opts),
        authorizer=authorizer,
        authzen=AuthZen(store, authorizer, opts),
        usage=Usage(store, runtime, opts),
        public=Public(store, runtime, opts),
        agent_self=AgentSelf(store, opts),
    )


def store_is_transient(settings: Settings) -> bool:
    """Whether the settings name the in-memory store (``store.url: memory:``): for tests and
    demos, it keeps nothing once the process ends, and no other process shares it."""
    return is_memory_url(settings.database)


def require_persistent_store(settings: Settings, what: str) -> None:
    """VALIDATION_ERROR when the settings name the in-memory store and ``what`` (a command)
    needs a store that outlives it or that another process shares."""
    if store_is_transient(settings):
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"{what} needs a store that is kept: store.url is {MEMORY_URL} (in memory, for tests "
            "and demos; each process has its own, gone when it ends). Set store.url (or "
            "OPENLEASH_DATABASE_URL) to a SQLite file or a postgresql:// URL, or unset it",
        )


def check_copy_target(target: str) -> None:
    """``migrate-store`` copies only into PostgreSQL; VALIDATION_ERROR otherwise."""
    if not is_postgres_url(target):
        raise InvalidInputError("VALIDATION_ERROR", "--to must be a postgresql:// URL")


def sqlite_copy_source(origin: str) -> Path:
    """The SQLite file ``migrate-store`` copies from; VALIDATION_ERROR saying what to name
    instead when ``origin`` is a PostgreSQL URL or not a usable path."""
    if is_memory_url(origin):
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"the settings name the in-memory store ({MEMORY_URL}), which keeps nothing to copy: "
            "name the SQLite file with --from",
        )
    if is_postgres_url(origin):
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"the settings name a PostgreSQL store ({shown_url(origin)}), not a SQLite one: "
            "name the SQLite file with --from (or unset OPENLEASH_DATABASE_URL)",
        )
    try:
        return store_path(origin)
    except ValueError as exc:
        raise InvalidInputError("VALIDATION_ERROR", str(exc)) from None


async def copy_sqlite_into_postgres(
    source: Path,
    target: str,
    *,
    batch_rows: int = BATCH_ROWS,
    on_table: Callable[[CopiedTable], None] | None = None,
) -> StoreMigration:
    """Copy the SQLite store at ``source`` into the empty PostgreSQL database ``target`` and
    verify the audit chain there (see :func:`openleash.store.copy.migrate_store`)."""
    return await migrate_store(source, target, batch_rows=batch_rows, on_table=on_table)
