"""Where Metabase is and how to log in, read from the environment (METABASE_*) when a command asks, never at import.

The warehouse connection Metabase gets is the project's warehouse (`extract.settings`) as its read-only reader role,
unless `METABASE_WAREHOUSE_URL` says how Metabase reaches it (in docker-compose:
`postgresql://execmetrics_reader:...@warehouse:5432/execmetrics`).
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dashboards.metabase.apply import WarehouseConnection
from dashboards.metabase.client import MetabaseClient, Transport
from extract.settings import Settings


class MetabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METABASE_", env_file=".env", extra="ignore")

    url: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    collection: str = "execmetrics"
    database_name: str = "execmetrics warehouse"
    warehouse_url: SecretStr | None = None  # the warehouse as Metabase reaches it
    warehouse_ssl: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.url and (self.api_key or (self.user and self.password)))

    def client(self, transport: Transport | None = None) -> MetabaseClient:
        if not self.url:
            raise ValueError("METABASE_URL is not set")
        return MetabaseClient(
            self.url,
            api_key=self.api_key.get_secret_value() if self.api_key else None,
            username=self.user,
            password=self.password.get_secret_value() if self.password else None,
            transport=transport,
        )

    def warehouse_connection(self, settings: Settings, tenant: str | None = None) -> WarehouseConnection:
        """The connection Metabase gets: METABASE_WAREHOUSE_URL as given, else the warehouse as its reader role
        (marts only), which must have been granted (`execmetrics warehouse grant`).

        For one tenant's dashboards: the tenant role (its rows only), the tenant pinned by the connection's options,
        at the same host (METABASE_WAREHOUSE_URL's, when set)."""
        from extract.warehouse import Target, Warehouse  # psycopg import only when a command needs it

        part = "tenant" if tenant is not None else "reader"
        warehouse = Warehouse(settings)
        role = warehouse.as_role(part)
        if (tenant is not None or not self.warehouse_url) and role is warehouse:
            variable = f"WAREHOUSE_{part.upper()}_PASSWORD"
            raise ValueError(
                f"Metabase connects as the warehouse's {part} role, which has no password yet: run"
                f" `execmetrics warehouse grant` (an external warehouse needs {variable})"
                + ("" if tenant else ", or set METABASE_WAREHOUSE_URL")
            )
        target = Target.from_url(self.warehouse_url.get_secret_value()) if self.warehouse_url else role.target
        if tenant is not None:
            target = Target(target.host, target.port, role.target.user, role.target.password, target.dbname)
        return WarehouseConnection(
            name=self.database_name if tenant is None else f"{self.database_name} (tenant {tenant})",
            host=target.host,
            port=target.port,
            dbname=target.dbname,
            user=target.user,
            password=target.password,
            ssl=self.warehouse_ssl,
            tenant=tenant,
        )
