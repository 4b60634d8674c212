"""Services: the operations an admin performs, shared by the CLI and the GUI.

``Context`` bundles the store, its vault (the secret store), the templates and settings;
``open_context`` is the one place (besides tests) that builds it. ``ConfigurationService``
saves a configuration and its client secret in one transaction: both or neither.

No Qt here: the GUI wraps these calls; the CLI calls them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.models.config import TokenConfiguration
from desktop.store.repository import ChangedMeanwhile, NotFoundError, Store
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, SecretStore, SecretStoreError

if TYPE_CHECKING:
    from desktop.models.origins import EndpointMove
    from desktop.models.templates import TemplateCatalog
    from desktop.models.validation import FieldError
    from desktop.store.vault import AgentKeySource, PassphraseProvider, Vault

logger = logging.getLogger(__name__)


class ValidationFailed(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class InUseError(RuntimeError):
    """The configuration is used by mail accounts or web-service invokers."""


class TokenBusy(RuntimeError):
    """An endpoint move waited in vain for a token renewal of that configuration to finish; nothing changed."""


#: seconds a change that moves endpoints waits for a running renewal of that token (desktop.oauth.locks)
MOVE_LOCK_TIMEOUT = 5.0


def forget_tokens(store: Store, secrets: SecretStore, config_id: int) -> None:
    """Delete the stored access and refresh token and reset their facts, as TokenService.forget does, in the
    caller's transaction (the caller holds the token's lock: ``hold_token_locks``)."""
    with store.transaction():
        secrets.delete_for(config_id, ACCESS_TOKEN)
        secrets.delete_for(config_id, REFRESH_TOKEN)
        store.update_state(
            config_id, has_access_token=False, has_refresh_token=False, token_expires_at=None,
            refresh_token_expires_at=None, reauthorization_needed=False, error_message=None,
            error_description=None, error_code=None, token_info={},
        )


@contextmanager
def hold_token_locks(store: Store, names: Mapping[int, str], timeout: float | None = None) -> Iterator[None]:
    """Hold the refresh lock of each configuration id in ``names`` (id -> name), taken before the transaction
    that moves their endpoints: a renewal running against the old host finishes first, and none starts until the
    move is committed (it would store tokens of the old host after they were forgotten)."""
    if not names:
        yield
        return
    from desktop.oauth.locks import LockTimeout, store_token_lock  # only for a move: the module is tiny

    wait = MOVE_LOCK_TIMEOUT if timeout is None else timeout
    with ExitStack() as stack:
        for config_id in sorted(names):  # one order for everyone
            try:
                stack.enter_context(store_token_lock(store, config_id, wait))
            except LockTimeout:
                raise TokenBusy(f"the token of '{names[config_id]}' is being renewed right now, so its endpoints "
                                "cannot move to another host yet; nothing was changed. Try again in a moment."
                                ) from None
            except OSError as exc:  # one open file per lock: more moves at once than this process may open
                raise TokenBusy(f"{len(names)} configurations would move to other hosts at once, more than can be "
                                f"locked together ({exc.strerror or exc}); nothing was changed. Import the file "
                                "in smaller parts.") from None
        yield


#: callables (context, config) -> list of "mail account 'X'" style descriptions of users
DeleteGuard = Callable[["Context", TokenConfiguration], list[str]]


class Context:
    """The store, its secrets, the templates (loaded on first use) and the delete guards. A plain class: built at
    every start, where defining a dataclass costs ~1 ms."""

    def __init__(self, store: Store, secrets: SecretStore, _templates: Any = None,
                 delete_guards: list[DeleteGuard] | None = None) -> None:
        self.store = store
        self.secrets = secrets
        self._templates = _templates
        self.delete_guards: list[DeleteGuard] = [] if delete_guards is None else delete_guards

    @property
    def templates(self) -> TemplateCatalog:
        """Provider templates, loaded (YAML) on first use."""
        if self._templates is None:
            from desktop.models.templates import load_templates

            self._templates = load_templates()
        return self._templates

    @property
    def vault(self) -> Vault | None:
        """The store's vault (None only with a test's MemorySecrets)."""
        return getattr(self.secrets, "vault", None)

    @property
    def settings(self) -> dict[str, Any]:
        return self.store.settings()

    def close(self) -> None:
        self.store.close()

    @property
    def configurations(self) -> ConfigurationService:
        return ConfigurationService(self)


def open_context(
    db_path: Path | str | None = None,
    secrets: SecretStore | None = None,
    *,
    passphrase_provider: PassphraseProvider | None = None,
    agent_key: AgentKeySource | None = None,
    connect_later: bool = False,
) -> Context:
    """Open the store and its vault. Cheap: the keyring is touched only when a secret is first needed.

    ``passphrase_provider`` asks the admin for the vault passphrase (terminal or dialog); ``agent_key``
    asks a running window for the open vault's key (``desktop.agent``); ``connect_later``: a team store connects
    at its first use (the window's start, after its first paint: ``ui/row_loading.py``)."""
    if db_path is None:  # TOKENDESK_STORE, the saved team store, else this workstation's file
        from desktop.store.location import open_store

        store = open_store(connect_later=connect_later)
    else:
        store = Store.open(db_path, connect_later=connect_later)
    if secrets is None:
        from desktop.store.vault import Vault
        from desktop.store.vault_secrets import VaultSecrets

        secrets = VaultSecrets(store, Vault(store, passphrase_provider=passphrase_provider, agent_key=agent_key))
    return Context(store=store, secrets=secrets)


class ConfigurationService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.secrets = ctx.secrets

    def validate(self, cfg: TokenConfiguration, *, client_secret_given: bool | None = None) -> list[FieldError]:
        own = None
        if cfg.id is not None:
            stored = self.store.get_by_id(cfg.id)
            own = stored.name if stored else None
        from desktop.models.validation import validate_configuration  # the window's start needs no validation

        return validate_configuration(
            cfg, existing_names=set(self.store.names()), own_name=own, has_client_secret=client_secret_given
        )

    def add(self, cfg: TokenConfiguration, client_secret: str | None) -> TokenConfiguration:
        """Save a new configuration and its client secret together.

        An empty client secret is allowed (public clients, PKCE only) and recorded as absent.
        """
        errors = self.validate(cfg)
        if errors:
            raise ValidationFailed(errors)
        secret = client_secret or ""
        if secret:
            self.secrets.prepare_write()  # makes (or opens) the vault before the transaction
        from desktop.store import history  # the window's start records nothing: loaded on the first change

        with self.store.transaction():
            saved = self.store.insert(cfg, has_client_secret=bool(secret))
            assert saved.id is not None
            if secret:
                # sealed into the same transaction: the row and its secret commit together
                self.secrets.set_for(saved.id, CLIENT_SECRET, secret)
            history.record(self.store, saved.id, saved.name, history.ADD,
                           f"template {saved.template_name}" if saved.template_name else "")
        logger.info("configuration added: %s (template %s)", saved.name, saved.template_name)
        return saved

    def endpoint_moves(self, cfg: TokenConfiguration) -> list[EndpointMove]:
        """The endpoints saving ``cfg`` would move to another origin (``desktop.models.origins``)."""
        stored = self.store.get_by_id(cfg.id) if cfg.id is not None else None
        from desktop.models.origins import endpoint_moves

        return endpoint_moves(stored, cfg) if stored is not None else []

    def update(self, cfg: TokenConfiguration, client_secret: str | None = None, *,
               keep_client_secret: bool = False, expected: TokenConfiguration | None = None) -> TokenConfiguration:
        """Save changes; ``client_secret`` None keeps the stored one, '' removes it.

        ``expected`` is the version the edit loaded (the window's Edit dialog, ``tokendesk edit``): if the stored
        configuration changed since (another window, a command, an import), nothing is saved and
        ``ChangedMeanwhile`` lists what changed.

        A change that moves an endpoint to another origin (``endpoint_moves``) also forgets the stored tokens
        and - unless ``keep_client_secret`` or a new ``client_secret`` is given - the stored client secret, in
        the same transaction: secrets obtained for one host never go to another one."""
        errors = self.validate(cfg)
        if errors:
            raise ValidationFailed(errors)
        assert cfg.id is not None
        if client_secret:
            self.secrets.prepare_write()
        locked = {cfg.id: cfg.name} if self.endpoint_moves(cfg) else {}
        from desktop.store import history

        with hold_token_locks(self.store, locked), self.store.transaction():
            moves = self.endpoint_moves(cfg)  # read again inside the transaction
            stored = self.store.get_by_id(cfg.id)
            drop_secret = bool(moves) and client_secret is None and not keep_client_secret and bool(
                stored and stored.has_client_secret)
            has_secret = False if drop_secret else None if client_secret is None else bool(client_secret)
            saved = self.store.update(cfg, has_client_secret=has_secret, expected=expected)
            if client_secret is not None:
                if client_secret:
                    self.secrets.set_for(cfg.id, CLIENT_SECRET, client_secret)
                else:
                    self.secrets.delete_for(cfg.id, CLIENT_SECRET)
            if drop_secret:
                self.secrets.delete_for(cfg.id, CLIENT_SECRET)
            if moves:
                forget_tokens(self.store, self.secrets, cfg.id)
            if stored is not None:
                history.rename(self.store, cfg.id, stored.name, saved.name)
                after = saved.replace(has_client_secret=stored.has_client_secret if has_secret is None else has_secret)
                history.record(self.store, cfg.id, saved.name, history.EDIT,
                               history.edit_detail(stored, after, tokens_forgotten=bool(moves)))
        if has_secret is not None:
            saved.has_client_secret = has_secret
        if moves:
            from desktop.models.origins import describe_moves

            logger.info("configuration updated: %s; %s: stored tokens forgotten, client secret %s", saved.name,
                        describe_moves(moves), "removed" if drop_secret else "kept" if client_secret is None
                        else "replaced" if client_secret else "removed")
        else:
            logger.info("configuration updated: %s", saved.name)
        return saved

    def users_of(self, cfg: TokenConfiguration) -> list[str]:
        users: list[str] = []
        for guard in self.ctx.delete_guards:
            users.extend(guard(self.ctx, cfg))
        return users

    def delete(self, name: str) -> None:
        """Delete a configuration, its token state and its secrets (all or nothing)."""
        cfg = self.store.get(name)
        assert cfg.id is not None
        users = self.users_of(cfg)
        if users:
            raise InUseError(
                f"'{cfg.name}' cannot be deleted: it is used by {', '.join(users)}. "
                "Change or delete those first."
            )
        from desktop.store import history

        with self.store.transaction():
            self.secrets.delete_all_for(cfg.id)
            self.store.delete(cfg.id)
            history.record(self.store, cfg.id, cfg.name, history.DELETE)
        logger.info("configuration deleted: %s", cfg.name)

    def client_secret(self, cfg: TokenConfiguration) -> str | None:
        assert cfg.id is not None
        return self.secrets.get_for(cfg.id, CLIENT_SECRET)

    def get(self, name: str) -> TokenConfiguration:
        return self.store.get(name)


__all__ = [
    "ChangedMeanwhile",
    "Context",
    "ConfigurationService",
    "InUseError",
    "NotFoundError",
    "SecretStoreError",
    "TokenBusy",
    "ValidationFailed",
    "open_context",
]
