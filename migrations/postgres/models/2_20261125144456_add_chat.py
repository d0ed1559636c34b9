from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "chat_bans" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "until" TIMESTAMPTZ,
    "reason" VARCHAR(500) NOT NULL,
    "banned_by_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "stream_id" UUID NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_chat_bans_stream__f04822" UNIQUE ("stream_id", "user_id")
);
COMMENT ON TABLE "chat_bans" IS 'A ban (``until`` null) or a timeout (``until`` set) of a user in one stream''s chat and reactions.';
        CREATE TABLE IF NOT EXISTS "chat_messages" (
    "id" UUID NOT NULL PRIMARY KEY,
    "sequence" BIGINT NOT NULL,
    "content" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "deleted_at" TIMESTAMPTZ,
    "deleted_by_id" UUID,
    "author_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "stream_id" UUID NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_chat_messag_stream__5a9783" UNIQUE ("stream_id", "sequence")
);
        CREATE TABLE IF NOT EXISTS "chat_rooms" (
    "last_sequence" BIGINT NOT NULL,
    "message_count" INT NOT NULL,
    "reaction_count" BIGINT NOT NULL,
    "pinned_message_id" UUID,
    "slow_mode_seconds" INT NOT NULL,
    "mode" VARCHAR(16) NOT NULL,
    "emote_only" BOOL NOT NULL,
    "blocked_words" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "stream_id" UUID NOT NULL PRIMARY KEY REFERENCES "streams" ("id") ON DELETE CASCADE
);
COMMENT ON COLUMN "chat_rooms"."mode" IS 'OPEN: OPEN\nFOLLOWERS: FOLLOWERS\nSUBSCRIBERS: SUBSCRIBERS';
COMMENT ON TABLE "chat_rooms" IS 'Per-stream chat state: the sequence counter, counts, pinned message and settings (one row per stream).';
        CREATE TABLE IF NOT EXISTS "follows" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "channel_owner_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "follower_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_follows_followe_1db573" UNIQUE ("follower_id", "channel_owner_id")
);
COMMENT ON TABLE "follows" IS '``follower`` follows the channel of ``channel_owner`` (FOLLOWERS chat mode).';
        CREATE TABLE IF NOT EXISTS "memberships" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "expires_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "channel_owner_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "member_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_memberships_member__9282ee" UNIQUE ("member_id", "channel_owner_id")
);
COMMENT ON TABLE "memberships" IS '``member`` is a subscriber (paying member) of ``channel_owner`` until ``expires_at`` (SUBSCRIBERS mode).';
        CREATE TABLE IF NOT EXISTS "moderation_log" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "actor_id" UUID NOT NULL,
    "action" VARCHAR(32) NOT NULL,
    "target_user_id" UUID,
    "detail" VARCHAR(1000) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "stream_id" UUID NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_moderation__created_869071" ON "moderation_log" ("created_at");
COMMENT ON TABLE "moderation_log" IS 'Who did what to whom, when (kept after bans are lifted).';
        CREATE TABLE IF NOT EXISTS "reactions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "user_id" UUID NOT NULL,
    "emoji" VARCHAR(32) NOT NULL,
    "position_x" DOUBLE PRECISION NOT NULL,
    "position_y" DOUBLE PRECISION NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "stream_id" UUID NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_reactions_created_0070f6" ON "reactions" ("created_at");
COMMENT ON TABLE "reactions" IS 'One emoji reaction at a screen position (percent of width and height, 0-100).';
        CREATE TABLE IF NOT EXISTS "stream_moderators" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "stream_id" UUID NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_stream_mode_stream__29e930" UNIQUE ("stream_id", "user_id")
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "follows";
        DROP TABLE IF EXISTS "memberships";
        DROP TABLE IF EXISTS "chat_bans";
        DROP TABLE IF EXISTS "chat_messages";
        DROP TABLE IF EXISTS "moderation_log";
        DROP TABLE IF EXISTS "chat_rooms";
        DROP TABLE IF EXISTS "stream_moderators";
        DROP TABLE IF EXISTS "reactions";"""


MODELS_STATE = (
    "eJztXetz4jgS/1dUfLlMVWYqIY/Jpa6uCggzyy2BFJCdrV22jMEK+MZIrB/LpObmf7+W/M"
    "AP2di8Al594SGpZfnXktzd6m5/r8yphg3rQ982sTqv3KPvFaLOMfyI1ZyjirpYrMpZga2O"
    "Dd7U4m14mTqGP+rEhuIX1bAwFGnYmpj6wtYpgVLiGAYrpBNoqJPpqsgh+p8OVmw6xfYMm1"
    "Dx+x9QrBMNf8OW/3fxVXnRsaFFxqpr7Nq8XLFfF7zs+bn18Im3ZJcbKxNqOHOyar14tWeU"
    "BM0dR9c+MBpWN8UEm6qNtdBtsFF6N+wXuSOGAtt0cDBUbVWg4RfVMRgYlX+9OGTCMED8Su"
    "zj+t/e0ELNFKXTHSj95kBRKgWwm1DCcNeJzYD6/sPtdwUIL62wCzR+qvXOrm7fcQioZU9N"
    "XsnhqvzghKqtuqQc9BXKtm7D7SeAbsxUUwx0QBDDGoa6Ccp+wQrm1RTzAfQh2gOolbn6TT"
    "Ewmdoz+Fu9uMhA+ZdajwMNrTjSFNaEu1Y6XlXVrWOIrxAOjyyB8wB/s8U4x8gOh3blDSbw"
    "oPnrgPU8t6w/jTCiZ4+1XznY81evpt3tfPabhzjQaHfrMeDtmTMfE1U3FMc0Ck3xOOFG4H"
    "vbxbHO9Ou7XFP9+i5jrrPKKOaWrdqOJQa7SZw5B7wFA1PJBCeAX1Hva7on9/B+46fmw3O7"
    "+VBw2q8I71Hwc0iees2nWq/V+XyPgp9D0m790rxH7HNIes1Gt9NpNga8UfjfkDQ7D6w//j"
    "UkDGgggQL/15A0ap1Gs82vGvysbDABLm9zsP/yNpX5rCrK+oVJ/9I1bBZZaWGaA+5wBp2o"
    "xr62uSjOV9UcOF9VU3FmVWKcFVdCU0Ry0nrEo9Tl2+Auq3n2N2iVPsOrid0tAE+1LGxvin"
    "yYWAKfC3hvsn7Fr0UQj1KVUF7dM9bKTLVmmwEekO4G9fW62MEwv73OAfntdSrirCq2qxjq"
    "61idfC26n0TJSgf0fnZwH7QFNfRJym6yXlAVdHNA8eXpud5uNYrKqy4ViKX8e0j6rc8dLr"
    "zy701kyDz8SedOgjcG4EQmrwozRm3KmHgfB+RKf1DrPNR6xfUIjw444f1iOsLDc4Mxx/sB"
    "GkT3CygQ3S9HwCcTw9UIntjKEgChyySvWiTFqCEijbEIbmFfLLq92NfGNWVDeF+9vP54fX"
    "d1e30HTfgwg5KPGSxodQYxhBn34BK2ThzqWIrmABJC81Eq0Bk9HA7v66vqxalAzmamqcEV"
    "FUzYPQsexXVKDayS9JmdoI9BPYYO9oV1UHJYw129221HDHf1Vtwy9/xYb8Jzmu8v0Ei3sZ"
    "gDk5lqbwh+nPSAuPvy0cnCDhI7P8KwNp74AnrJgPwMsCYzrDkAnKLaSewfAC5bn+MUhStG"
    "G8Nd84g/+D9Oz7iQdWjQemyCyPT4FGHEQ23QZDXVyKmBX3oWt2gGnaAvrcFPiP1Fv3U7zf"
    "hRWtBu8FuFjUl1bKoQulRULYyJX+wXxY3jpr0ZnyOUksvHzGUMEG7C4zCd5PAxc9g9plJA"
    "6iDTTZdzsgPJ8yPnuWlbikWBRSae6xsu8oxuJP+Pnv9MvduW+YI+JOePmfMT0HA2k9qilD"
    "vg8iYODvu018P9aV1ivHrXPRGuexBlMt1ZaBsyPUp5GKYf9gjyNLkuWOve6Fdcp0vghPAY"
    "Lt3xNEyzS/fT493B13ibMofel69CZ1OOVRLcT9TE+pT8jF8ThzsxRD3/5WcLn+Lh/Q9/7v"
    "ilq83IVJeBC3RkSsHNwy1j13jUqPUbtYdmhWPMzh+XqqkpKWCPVSJwxKt7VJ9+7mEj7UzA"
    "g7kxU+26SkqEdNLgPMeWpU7xDpB6dHsqK1rsTt1DJMWg0+3gegz6artdlRGwwDC+HVY9r5"
    "uywuTNK2puiZMb0/Lo91YmuNhuT6s0tMtH9v9oVWx/MymdpwPbJXhA4SPfDtfz+jpJXVQM"
    "67w6j8E6Vwns4prXHSMOCx2CYCpfGEkPpXKghQykKnkgFf9O4Jzuvue3L5/fXq4gqsuMIK"
    "rLZBCVSQ2RjPaffreTciztE8Q1cH1io/8hQ7f25vYSms1jRzdsnVgf2PXeYkIzgCLKdyKw"
    "Kh5DFZv5rIN4YNVpWcSkcWRzk1hCl8+jeIYih7cV505wBuQSeqVuLnXzHaL1Qg2DLvG2Kt"
    "Qn3k25QWLdSJDStXE8H289jx7dTmb6ouQwwR1KqHLaDbddd9K+E7JR5Lda+HKCwHAREiHS"
    "bRf8QeyLK2vtF5UagrbobDRyiK0boxEfzjtETaQiJtJTxw7XWtiGyheoZDYSpBNECUauAP"
    "kPC7GLI5VoKLClfqjEoD7MFQXWl989OZdXMxPQH9vYY1IDOYTmGEHMhifBH6+NYCfxGunm"
    "F87fwmf1PpH0wDmeU/mkMwYsM0sU/ZRuXFtRlCBvTtS8dpPLvHaTYV67SZrXYAslWFPGrw"
    "WdH+J00gFCmsr+pqYyQQqFYmvJykjIIhcSE7EKAhoikXBmO2atRNktPbNKZ7Y9j/lmRVap"
    "2DkrPm13AGvJHd5CK7Wov9u+dWffcpyiP4cMy2t06LAxe7d+AGFN1MJQy6bSVtqo9A7YtX"
    "dAwJcE1nV9mqr8h6kOl7Zh/1aAf1arV1cfqxdXt3c31x8/3txdBOaAZFWWXaDe+sxMAxE5"
    "T5BZgBIbE4EEnp59NURSirxhWcL1PnKvSr0nfQ2UV+9xn9ybcD1KKc1xx2yO83lV2FqUIN"
    "xCjjgd/hZQcgH2GS2q5kaIpKIrzmYpTTHbQSptB4e3HbgLW1oP1sEa2QCPzX7AYyZSjAd+"
    "PMUaywEL4ch5/P6EzffuLHNPslmiEQyozTDydUk0oQ7oNua5+8M6RwudHeIgz0DBT78tbD"
    "OPDQudsdNxky7RApveKfm75Bn8YS47JEMyGhmqZSt+r6MR0i2kE1Aa5qCuQXc6cS8LaMNk"
    "UYnlHuNDIYxLJ7ASbAup/lXPkUWDIUK5idFUXbx/MTEekjMVhmAYWHvPpoNHzIssfg3vjh"
    "CrfcfHT00NmzAIBxaMCfVk4pgmjAstTR1awn0xOnZfBgWaNNeCvKab43q2val7wX6sNpG5"
    "Vsx0kyA9nP1mzyk3D2y88VaqwldbkgfpGVDjdKVhwA5znrqbYxq2WfM7SVsafA88wd3noH"
    "8+UHA3FxJLtTqmAxp0yTOCw4YMF9AEPrvpJngRbWmm+u4yVm+Rs/0NcrV3n5qdggdInOYe"
    "sc8h+dRtt7tfmr3+PQp+Dkn/ud5v9Fp1Xh76E5eX87h57f79THhObaxQZnhO7vRZGX6jhD"
    "KndYHcvmMm58P+vATNoFD4aoJQhrFmn1FtEMYqc3yl70WneUYlOL4IAixyhrEm7UHrLZ1+"
    "Fo292zmPQcXehZVzdyY2LxpPYGBbxemlm9fckMCctrXRyA+zHI2QR+nagWbMC9pgUSWjkf"
    "dH4Tm8oOFZIB+4pjE2CoEFbdedC92E/EuwBpGuZOzKm8auSGeJsj2I8jhLRFZgQbVfRCvP"
    "KWPynb/dFcQ2RiZhzT7+DT9U5DlllmAUm1jrD4Cjz2iJ7xp8RZviMR0Hh2L9BfJqNBNAus"
    "waSz2QR251SdyzUhVZzpjVQwk6W6ivgDxyG7wTC5k8SBbK8beFDrsCyBpM8gyZt9Jl2sNd"
    "WCjvur1Lafe4pN0VO4tKu1FK6SR6PFYWgXQrdRqp00idZtc6jftIK4hshEhCmq3PrIQGKW"
    "1nSduRSSV1mb+bLhPJ4C9SZ+Ip/jM0msSbBdYrNV9mFGm6hpbM7G1T+Kbzc/jEBJ19xQsb"
    "qS+uayZxvToNHf5rAiVlm452nJNbahZbahYwY4pHz4Ro5KMxHo8UvHki6deTCqc4i99phs"
    "1GfXKuqjl8cq6qqT45rCoKsK2asHcoGyQ3SVJKr78othq2VVFKuPTJu6IoXdawy4u8Wfkz"
    "0/InEoedlpovX44o01sdz2YlYyrfwNvoYBpS8N4ugXIUfqdXul4UeYHYepWoSzDCc/pfPc"
    "hdi1guWwSNMGgzMAF1Xni2wOaEBaXRF7TUNXvGQ9dmMK9m9jm6eM/evpLUk3be+46Vp6xY"
    "lZLpTweJT8nItCsz8e1STOWLqoiUGhBIDSuHhuVvTMo3wdPUoGrKlhEliyH9wuhOEOsMbB"
    "+6z/V2Ez31mo1Wv+U52wcyJ69kRatYh16z1k6DWhBgkgdqUXiJhFoItVS7pNol1S6pdkm1"
    "K6529WOviRFoX/Em51lKmHej0bcU7y9/q3yTyJufIp3Ws1V6LsmH6xE9XGXKfimrnKCsIl"
    "P2lyRlfw2b+mQmkvq8mkxhT1212amEJ+W5N5Tn/sKmVdCLJURSQiNr9eYmh5UVWqWaWXld"
    "zFVosSiCsNe8hOhe5nW0yPKzSLhZpL3BID2DTPobDA6QO+ZthKmdZYnZKl/Itg+zH/8HKg"
    "uXNQ=="
)
