"""Commands on API clients: register, rotate the secret, revoke; and the check the token endpoint makes."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from dudao.commands import Caller, in_scope
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry.commands import RegisterApiClient, RevokeApiClient, RotateApiClientSecret
from services.registry.domain.api_client import ApiClient


class ApiClientCommands(ServiceApplication):
    def register_api_client(self, command: RegisterApiClient, caller: Caller) -> ApiClient:
        """A client that may read the caller's subtree (or a place inside it) with the `national` role."""
        check_scope(caller.principal, command.jurisdiction)
        client = ApiClient.register(
            client_id=caller.made_id,
            name=command.name,
            jurisdiction=command.jurisdiction,
            secret_hash=command.secret_hash,
            now=command.now,
        )
        return self.save_new(client, caller.envelope)

    def rotate_api_client_secret(self, command: RotateApiClientSecret, caller: Caller) -> ApiClient:
        return self.act(
            command.client_id,
            ApiClient,
            caller,
            lambda c: c.rotate_secret(secret_hash=command.secret_hash, now=command.now),
            in_scope(caller),
        )

    def revoke_api_client(self, command: RevokeApiClient, caller: Caller) -> ApiClient:
        return self.act(command.client_id, ApiClient, caller, lambda c: c.revoke(now=command.now), in_scope(caller))

    def authenticate_api_client(self, client_id: str, secret: str) -> ApiClient | None:
        """The client if `secret` is its current one and it is not revoked; else None, without saying which.

        Read from the event store, not a projection, so a revocation or a new secret counts from the moment it is saved.
        """
        try:
            client = self.repository.get(UUID(client_id))
        except (ValueError, AggregateNotFoundError):
            return None
        return client if isinstance(client, ApiClient) and client.accepts(secret) else None
