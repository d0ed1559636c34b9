"""Rate limits per client address (the playback beacon's): what counts as one client, and the refusal."""

from __future__ import annotations

import pytest

from livecast.domain.client_limits import AddressLimit, client_key
from livecast.domain.errors import RateLimited


def test_ipv6_clients_are_counted_per_64_and_ipv4_per_address() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb:cccc:dddd:eeee") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") != client_key("192.0.2.8")
    assert client_key(None) == client_key("") == "unknown"
    assert client_key("a-unix-socket-peer") == "a-unix-socket-peer"


async def test_an_address_over_its_limit_is_refused_with_the_wait() -> None:
    limit = AddressLimit(limit="3/minute", namespace="test")
    for _ in range(3):
        await limit.hit("2001:db8::1")
    with pytest.raises(RateLimited) as refused:
        await limit.hit("2001:db8::2")  # the same /64
    assert 1 <= refused.value.retry_after <= 60
    await limit.hit("2001:db9::1")  # another network
    await limit.close()
