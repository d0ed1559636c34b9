"""The /hls/ route: content types (RFC 8216 section 4), caching, CORS for browser players, and no way out
of the media directory."""

from __future__ import annotations

import httpx

from tests.conftest import Server

PLAYLIST = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_000000.ts\n"


async def test_hls_files_are_served_with_the_right_headers(server: Server) -> None:
    folder = server.settings.hls_dir / "abcDEF123"
    folder.mkdir(parents=True)
    (folder / "index.m3u8").write_text(PLAYLIST)
    (folder / "seg_000000.ts").write_bytes(b"\x47" * 188 * 4)
    (server.settings.hls_dir / "secret.txt").write_text("no")
    async with httpx.AsyncClient(base_url=server.http) as client:
        playlist = await client.get("/hls/abcDEF123/index.m3u8", headers={"Origin": "https://player.example"})
        assert playlist.status_code == 200 and playlist.text == PLAYLIST
        assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert playlist.headers["cache-control"] == "no-cache"
        assert playlist.headers["access-control-allow-origin"] == "*"
        segment = await client.get("/hls/abcDEF123/seg_000000.ts")
        assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"
        assert len(segment.content) == 188 * 4 and "max-age" in segment.headers["cache-control"]
        ranged = await client.get("/hls/abcDEF123/seg_000000.ts", headers={"Range": "bytes=0-187"})
        assert ranged.status_code == 206 and len(ranged.content) == 188
        preflight = await client.options("/hls/abcDEF123/index.m3u8")
        assert preflight.status_code == 204 and "GET" in preflight.headers["access-control-allow-methods"]
        for path in (
            "/hls/abcDEF123/missing.m3u8",
            "/hls/..%2F/secret.txt",
            "/hls/abcDEF123/..%2F..%2Fsecret.txt",
            "/hls/abcDEF123/index.m3u8.tmp",
            "/hls/nope/index.m3u8",
        ):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get("/healthz")).json() == {"status": "ok"}
