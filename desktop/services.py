"""Services: the operations an admin performs, shared by the CLI and the GUI.

``Context`` bundles the store, its vault (the secret store), the templates and settings;
``open_context`` is the one place (besides tests) that builds it. ``ConfigurationService``
saves a configuration and its client secret in one transaction: both or neither.

No Qt here: the GUI wraps these calls; the CLI calls them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.models.config import TokenConfiguration
from desktop.models.validation import FieldError, validate_configuration
from desktop.store.repository import NotFoundError, Store
from desktop.store.secrets import CLIENT_SECRET, SecretStore, SecretStoreError

if TYPE_CHECKING:
    from desktop.models.templates import TemplateCatalog
    from desktop.store.vault import AgentKeySource, PassphraseProvider, Vault

logger = logging.getLogger(__name__)


class ValidationFailed(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class InUseError(RuntimeError):
    """The configuration is used by mail accounts or web-service invokers."""


#: callables (context, config) -> list of "mail account 'X'" style descriptions of users
DeleteGuard = Callable[["Context", TokenConfiguration], list[str]]


@dataclass
class Context:
    store: Store
    secrets: SecretStore
    _templates: Any = None
    delete_guards: list[DeleteGuard] = field(default_factory=list)

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
) -> Context:
    """Open the store and its vault. Cheap: the keyring is touched only when a secret is first needed.

    ``passphrase_provider`` asks the admin for the vault passphrase (terminal or dialog); ``agent_key``
    asks a running window for the open vault's key (``desktop.agent``)."""
    store = Store.open(db_path)
    if secrets is None:
        from desktop.store.vault import Vault, VaultSecrets

        secrets = VaultSecrets(store, Vault(store, passphrase_provider=passphrase_provider, agent_key=agent_key))
    ctx = Context(store=store, secrets=secrets)
    _install_default_guards(ctx)
    return ctx


def _install_default_guards(ctx: Context) -> None:
    """Usage modules register their delete guards here; imported on first delete (lean start-up)."""
    import importlib.util

    if importlib.util.find_spec("desktop.usage.guards") is None:
        return

    def usage_guard(context: Context, cfg: TokenConfiguration) -> list[str]:
        from desktop.usage.guards import usage_delete_guard

        return usage_delete_guard(context, cfg)

    ctx.delete_guards.append(usage_guard)


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
        with self.store.transaction():
            saved = self.store.insert(cfg, has_client_secret=bool(secret))
            assert saved.id is not None
            if secret:
                # sealed into the same transaction: the row and its secret commit together
                self.secrets.set_for(saved.id, CLIENT_SECRET, secret)
        logger.info("configuration added: %s (template %s)", saved.name, saved.template_name)
        return saved

    def update(self, cfg: TokenConfiguration, client_secret: str | None = None) -> TokenConfiguration:
        """Save changes; ``client_secret`` None keeps the stored one, '' removes it."""
        errors = self.validate(cfg)
        if errors:
            raise ValidationFailed(errors)
        assert cfg.id is not None
        if client_secret:
            self.secrets.prepare_write()
        with self.store.transaction():
            saved = self.store.update(cfg, has_client_secret=None if client_secret is None else bool(client_secret))
            if client_secret is not None:
                if client_secret:
                    self.secrets.set_for(cfg.id, CLIENT_SECRET, client_secret)
                else:
                    self.secrets.delete_for(cfg.id, CLIENT_SECRET)
        if client_secret is not None:
            saved.has_client_secret = bool(client_secret)
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
        with self.store.transaction():
            self.secrets.delete_all_for(cfg.id)
            self.store.delete(cfg.id)
        logger.info("configuration deleted: %s", cfg.name)

    def client_secret(self, cfg: TokenConfiguration) -> str | None:
        assert cfg.id is not None
        return self.secrets.get_for(cfg.id, CLIENT_SECRET)

    def get(self, name: str) -> TokenConfiguration:
        return self.store.get(name)


__all__ = [
    "Context",
    "ConfigurationService",
    "InUseError",
    "NotFoundError",
    "SecretStoreError",
    "ValidationFailed",
    "open_context",
]
