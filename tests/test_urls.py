"""The rule for URLs users give livecast (issue #10, item 10): ``livecast.domain.urls.public_url``."""

from __future__ import annotations

import pytest

from livecast.domain.errors import ValidationFailed
from livecast.domain.urls import URL_MAX, public_url

HTTP = ("http", "https")
RTMP = ("rtmp", "rtmps")

GOOD = [
    ("https://cdn.example.com/thumbs/1.jpg", HTTP),
    ("http://example.com", HTTP),
    ("HTTPS://Images.Example.COM:8443/a.png?size=large#top", HTTP),
    ("https://example.com:/x.png", HTTP),  # empty port: the default
    ("https://example.com./x.png", HTTP),  # fully qualified, trailing dot
    ("https://bücher.example/umschlag.png", HTTP),  # IDN
    ("https://xn--bcher-kva.example/umschlag.png", HTTP),
    ("https://example.com/thumbs/über.png", HTTP),  # non-ASCII path (IRI)
    ("https://8.8.8.8/x.png", HTTP),
    ("https://1.1.1.1:443/", HTTP),
    ("https://[2606:4700:4700::1111]/x.png", HTTP),
    ("https://[::ffff:8.8.8.8]/x.png", HTTP),  # IPv4-mapped: judged by its IPv4 address
    ("https://metadata.example.com/", HTTP),
    ("https://my-local.example.com/", HTTP),
    ("rtmp://a.rtmp.youtube.com/live2", RTMP),
    ("rtmps://live-api-s.facebook.com:443/rtmp/", RTMP),
    ("rtmps://global-live.mux.com:443/app", RTMP),
    ("rtmp://live.twitch.tv/app", RTMP),
]

BAD = [
    # scheme, shape, length
    ("javascript:alert(1)", HTTP, "must be an absolute http:// or https:// URL"),
    ("ftp://example.com/x.png", HTTP, "URL"),
    ("rtmp://live.example.com/app", HTTP, "URL"),
    ("https://live.example.com/app", RTMP, "rtmp:// or rtmps://"),
    ("http:example.com", HTTP, "URL"),
    ("http:///x.png", HTTP, "URL"),
    ("https://example.com/" + "a" * URL_MAX, HTTP, f"at most {URL_MAX}"),
    ("http://[::1", HTTP, "valid"),
    # control characters, whitespace, backslashes
    ("https://example.com/a b.png", HTTP, "spaces, control characters or backslashes"),
    (" https://example.com/x.png", HTTP, "spaces"),
    ("https://example.com/x.png\n", HTTP, "spaces"),
    ("https://exa\tmple.com/", HTTP, "spaces"),
    ("https://example.com\x00.evil.com/", HTTP, "spaces"),
    ("https://exa\u200bmple.com/", HTTP, "spaces"),  # zero-width space
    ("https://example.com/\u202egnp.exe", HTTP, "spaces"),  # right-to-left override
    ("https://example.com\u3000/", HTTP, "spaces"),  # ideographic space
    ("https://example.com\\@127.0.0.1/", HTTP, "backslashes"),
    ("https:\\\\127.0.0.1\\x.png", HTTP, "backslashes"),
    # userinfo
    ("https://user:pass@example.com/", HTTP, "user name or password"),
    ("https://user@example.com/", HTTP, "user name or password"),
    ("https://example.com@127.0.0.1/", HTTP, "user name or password"),
    ("rtmp://x:y@live.example.com/app", RTMP, "user name or password"),
    # ports
    ("https://example.com:0/", HTTP, "port"),
    ("https://example.com:65536/", HTTP, "port"),
    ("https://example.com:+80/", HTTP, "port"),
    ("https://example.com:http/", HTTP, "port"),
    # loopback, private, link-local, unspecified, multicast, reserved, CGNAT, documentation
    ("http://127.0.0.1/x.png", HTTP, "loopback"),
    ("http://127.8.9.10/", HTTP, "loopback"),
    ("http://10.0.0.5/", HTTP, "private"),
    ("http://172.16.0.1/", HTTP, "private"),
    ("http://172.31.255.255/", HTTP, "private"),
    ("http://192.168.1.1/", HTTP, "private"),
    ("http://169.254.169.254/latest/meta-data/", HTTP, "link-local"),
    ("http://169.254.0.1/", HTTP, "link-local"),
    ("http://0.0.0.0/", HTTP, "unspecified"),
    ("http://224.0.0.1/", HTTP, "multicast"),
    ("http://239.255.255.250/", HTTP, "multicast"),
    ("http://240.0.0.1/", HTTP, "reserved"),
    ("http://255.255.255.255/", HTTP, "address"),
    ("http://100.64.0.1/", HTTP, "not a globally routable"),
    ("http://100.100.100.200/latest/meta-data/", HTTP, "not a globally routable"),  # Alibaba metadata (CGNAT)
    ("http://192.0.0.192/", HTTP, "address"),  # Oracle Cloud metadata (IETF protocol assignments)
    ("http://192.0.2.1/", HTTP, "address"),
    ("http://198.18.0.1/", HTTP, "address"),
    ("rtmp://127.0.0.1/live", RTMP, "loopback"),
    ("rtmp://192.168.0.10:1935/live", RTMP, "private"),
    # IPv6
    ("http://[::1]/", HTTP, "loopback"),
    ("http://[::]/", HTTP, "unspecified"),
    ("http://[fe80::1]/", HTTP, "link-local"),
    ("http://[fe80::1%25eth0]/", HTTP, "invalid IPv6"),
    ("http://[fc00::1]/", HTTP, "private"),
    ("http://[fd00:ec2::254]/latest/meta-data/", HTTP, "private"),  # AWS metadata over IPv6
    ("http://[ff02::1]/", HTTP, "multicast"),
    ("http://[2001:db8::1]/", HTTP, "address"),
    ("http://[fec0::1]/", HTTP, "address"),
    ("http://[::ffff:127.0.0.1]/", HTTP, "loopback"),
    ("http://[::ffff:7f00:1]/", HTTP, "loopback"),
    ("http://[::ffff:169.254.169.254]/", HTTP, "link-local"),
    ("http://[::ffff:10.0.0.1]/", HTTP, "private"),
    ("http://[::127.0.0.1]/", HTTP, "address"),  # IPv4-compatible (deprecated)
    ("http://[64:ff9b::7f00:1]/", HTTP, "address"),  # NAT64 of 127.0.0.1
    ("http://[2002:7f00:1::]/", HTTP, "address"),  # 6to4 of 127.0.0.1
    ("http://[v1.fe]/", HTTP, "invalid IPv6"),
    ("http://[127.0.0.1]/", HTTP, "valid"),
    # IPv4 in other forms
    ("http://2130706433/", HTTP, "four decimal numbers (2130706433 means 127.0.0.1)"),
    ("http://0x7f000001/", HTTP, "four decimal numbers"),
    ("http://0x7f.1/", HTTP, "four decimal numbers"),
    ("http://0177.0.0.1/", HTTP, "four decimal numbers"),
    ("http://127.1/", HTTP, "four decimal numbers"),
    ("http://127.0.1/", HTTP, "four decimal numbers"),
    ("http://010.0.0.1/", HTTP, "four decimal numbers"),
    ("http://0/", HTTP, "four decimal numbers"),
    ("http://134744072/", HTTP, "four decimal numbers (134744072 means 8.8.8.8)"),  # even a public one
    ("http://0x/", HTTP, "invalid IPv4"),
    ("http://1.2.3.4.5/", HTTP, "invalid IPv4"),
    ("http://256.0.0.1/", HTTP, "invalid IPv4"),
    ("http://example.123/", HTTP, "invalid IPv4"),
    ("http://１２７.０.０.１/", HTTP, "loopback"),  # fullwidth digits, mapped as browsers do
    ("http://127。0。0。1/", HTTP, "loopback"),  # ideographic full stops
    # local names and metadata hosts
    ("http://localhost/", HTTP, "localhost is a local name"),
    ("http://LOCALHOST:8000/", HTTP, "local name"),
    ("http://localhost./", HTTP, "local name"),
    ("http://ⓛocalhost/", HTTP, "local name"),
    ("http://foo.localhost/", HTTP, "local name"),
    ("http://metadata/computeMetadata/v1/", HTTP, "local name"),
    ("http://metadata.google.internal/computeMetadata/v1/", HTTP, "local name"),
    ("http://metadata.google.internal./", HTTP, "local name"),
    ("http://instance-data/latest/", HTTP, "local name"),
    ("http://printer.local/", HTTP, "local name"),
    ("http://router.home.arpa/", HTTP, "local name"),
    ("http://db.localdomain/", HTTP, "local name"),
    ("rtmp://localhost/live", RTMP, "local name"),
    ("rtmp://redis:6379/", RTMP, "local name"),
    # not valid host names
    ("http://exa%6dple.com/", HTTP, "valid host name"),
    ("http://%31%32%37.0.0.1/", HTTP, "valid host name"),
    ("http://a..b.com/", HTTP, "valid host name"),
    ("http://-a.example.com/", HTTP, "valid host name"),
    ("http://under_score.example.com/", HTTP, "valid host name"),
    ("http://" + "a" * 64 + ".com/", HTTP, "valid host name"),
    ("http://:80/", HTTP, "valid host name"),
]


@pytest.mark.parametrize(("url", "schemes"), GOOD)
def test_public_urls_are_accepted_unchanged(url: str, schemes: tuple[str, ...]) -> None:
    assert public_url(url, field="thumbnailUrl", schemes=schemes) == url


@pytest.mark.parametrize(("url", "schemes", "why"), BAD)
def test_other_urls_are_refused_naming_the_field(url: str, schemes: tuple[str, ...], why: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        public_url(url, field="url", schemes=schemes)
    assert refused.value.field == "url"
    assert refused.value.code.value == "VALIDATION"
    assert why in str(refused.value), str(refused.value)
    assert str(refused.value).startswith("url ")
