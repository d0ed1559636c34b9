"""Settings (environment, .env, development secret key) and access tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from livecast.domain.auth import bearer_token, decode_token, issue_token
from livecast.domain.errors import Unauthenticated
from livecast.domain.models import User
from livecast.settings import ConfigurationError, Settings


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LIVECAST_HTTP_PORT=9100\nLIVECAST_RTMP_PORT=2935\n")
    monkeypatch.setenv("LIVECAST_HTTP_PORT", "9200")
    s = Settings()
    assert (s.http_port, s.rtmp_port) == (9200, 2935), "environment wins over .env"
    assert s.database_url == "sqlite://./livecast.db" and s.bus_url == "memory://"
    assert s.http_base_url == "http://127.0.0.1:9200"
    assert s.rtmp_base_url == "rtmp://127.0.0.1:2935/live"
    assert s.hls_dir == Path(".livecast/media")
    monkeypatch.setenv("LIVECAST_PUBLIC_URL", "https://live.example.com/")
    monkeypatch.setenv("LIVECAST_RTMP_PUBLIC_URL", "rtmp://ingest.example.com/live")
    s = Settings()
    assert (s.http_base_url, s.rtmp_base_url) == ("https://live.example.com", "rtmp://ingest.example.com/live")
    assert Path(s.ffmpeg_path).exists(), "imageio-ffmpeg's binary by default"


def test_development_secret_key_is_generated_once(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).signing_key
    second = Settings(data_dir=tmp_path).signing_key
    assert first == second and len(first) >= 32, "the CLI and the server agree on the key"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0, "readable by the owner only"


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Settings(env="production", data_dir=tmp_path)
    assert Settings(env="production", secret_key="k" * 40, data_dir=tmp_path).signing_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()
    with pytest.raises(ConfigurationError, match="at least 32"):
        Settings(secret_key="short", data_dir=tmp_path)


def test_setting_errors_never_print_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVECAST_LIVEKIT_EGRESS_EXTRA_URLS", '["http://backup.example.com/live/sk-live-SECRET123"]')
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "livekit_egress_extra_urls" in str(refused.value) and "rtmp" in str(refused.value)
    assert "SECRET123" not in str(refused.value), "a key in a URL must not reach the logs"


def test_tokens() -> None:
    """A token states who (``sub``) and at which ``token_version`` (``ver``); roles are not in it."""
    user = User(id="6f1c1f5e-6a1b-4bd0-9c55-7d0fd5a3b0a1", name="alice", roles=["admin"], token_version=3)
    token = issue_token(user=user, key="k" * 40, ttl_seconds=60)
    claims = decode_token(bearer_token(f"Bearer {token}") or "", key="k" * 40)
    assert (claims.user_id, claims.version) == (str(user.id), 3)
    raw = jwt.decode(token, options={"verify_signature": False})
    assert "roles" not in raw and raw["exp"] - raw["iat"] == 60
    assert bearer_token(None) is None
    with pytest.raises(Unauthenticated, match="Bearer"):
        bearer_token(f"Token {token}")
    with pytest.raises(Unauthenticated, match="invalid"):
        decode_token(token, key="other-key" * 5)
    old = issue_token(user=user, key="k" * 40, ttl_seconds=60, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(old, key="k" * 40)


def test_default_token_lifetime_is_a_day(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).token_ttl_seconds == 24 * 3600
    assert Settings(data_dir=tmp_path).auth_cache_seconds == 5
