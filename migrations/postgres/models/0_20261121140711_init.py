from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "users" (
    "id" UUID NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL UNIQUE,
    "roles" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS "streams" (
    "id" UUID NOT NULL PRIMARY KEY,
    "title" VARCHAR(200) NOT NULL,
    "description" TEXT NOT NULL,
    "thumbnail_url" VARCHAR(2048),
    "status" VARCHAR(16) NOT NULL,
    "provider" VARCHAR(32) NOT NULL,
    "provider_stream_id" VARCHAR(128),
    "provider_asset_id" VARCHAR(128),
    "stream_key" VARCHAR(128) NOT NULL,
    "stream_key_hash" VARCHAR(64) NOT NULL UNIQUE,
    "playback_id" VARCHAR(128) NOT NULL UNIQUE,
    "playback_policy" VARCHAR(8) NOT NULL,
    "latency_mode" VARCHAR(8) NOT NULL,
    "reconnect_window" INT NOT NULL,
    "max_continuous_duration" INT NOT NULL,
    "recording_enabled" BOOL NOT NULL,
    "chat_enabled" BOOL NOT NULL,
    "reactions_enabled" BOOL NOT NULL,
    "scheduled_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ,
    "ended_at" TIMESTAMPTZ,
    "status_changed_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "owner_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_streams_status_a92a75" ON "streams" ("status");
CREATE INDEX IF NOT EXISTS "idx_streams_created_ea7721" ON "streams" ("created_at");
COMMENT ON COLUMN "streams"."status" IS 'SCHEDULED: SCHEDULED\nPREPARING: PREPARING\nLIVE: LIVE\nRECONNECTING: RECONNECTING\nENDED: ENDED\nARCHIVED: ARCHIVED\nCANCELLED: CANCELLED';
COMMENT ON COLUMN "streams"."playback_policy" IS 'PUBLIC: PUBLIC\nSIGNED: SIGNED';
COMMENT ON COLUMN "streams"."latency_mode" IS 'STANDARD: STANDARD\nREDUCED: REDUCED\nLOW: LOW';
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztm21v4jgQgP8KyqeedFeVlLJVdToJQtpyS0PFy3a1xykyiQtRE4dNnKWo1/9+tsmrk1"
    "CICAXEl5KMPbbzzMQZ29M3wbJ1aLrnfexAYAk3lTcBAQuSC67k94oAZrNITgUYjE1W1WV1"
    "mAyMyQ3QMBE/A9OFRKRDV3OMGTZsRKTIM00qtDVS0UCTSOQh46cHVWxPIJ5ChxT88y8RG0"
    "iHr9ANbmcv6rMBTT0xVkOnfTO5ihczJhsO261bVpN2N1Y12/QsFNWeLfDURmF1zzP0c6pD"
    "yyYQQQdgqMceg47Sf+BAtBwxEWDHg+FQ9Uigw2fgmRSG8OezhzTKoMJ6on9qf/lDi1VTVa"
    "U7UPvyQFWFDdhpNqLcDYQpqLf3ZbsRECYVaAfSfaN3dln/jSGwXTxxWCHDJbwzRYDBUpVB"
    "jyhjA5PHT4GWpsDJBh0qcKzJUItQDgQR5sjFAoABohKgChZ4VU2IJnhKbsWLixWUvzV6DD"
    "SpxUjb5J1YviuKXyQuyyjxiHB8ZCnOA/iKszlzarujLXyCAw/k7wPasuW6P8040bOHxncG"
    "21r4JZ2uchdUj1lA6nSbHHg89awxAoapeo65kYvzioXg+9PFvnp67XotV69dr/B1Wphk7m"
    "KAPTcbtow8iwFvk4EBpMEU+Ei7LHdPz+F96V5uDTtya0O3jxRvKuHlCD325MdGr63c3VTC"
    "yxHqtL/JNxX6d4R6stRVFFkasErxuxGSlRZtj/2MEAVNVIgguBohqaFIcof1Gl4KBRygWl"
    "/D/NV6rvFpUdL0M8f+ZejQ2eRNi+vscIYzbQ2YZU1zSc6X4hqcL8VczrQom7O6jNDUrDjp"
    "Y+JJ7eOb4KriOvMbqZXv4WJqdgvhAdeFuCj5uPIJ/FrgfWd9gYtNiCe1jjBeLZm1OgXutB"
    "jwUHU71D9ei+2Meb22BvJ6LZc4LeJmFRMsxkB72XQ+SaodHehyZvAA2sw2DS1nNvk4UM1o"
    "Zofhy+Ow2WlLm8arSy0SlrLfEeq37xQWvLLfIjHkOvbJt07KNibhhLSFSjejihqGb2OHVu"
    "kPGkqr0dt8HeHrEUv4V3SN0BpK1Dj+BVlBdJ/IAqL7tAd2ciDpDUENq3MCxJ6nbdVGOZsa"
    "WaqcicgjlGWi+kVZE9eEDuEPsVr7Uru+rNeuSRU2zFDyZYUJ2sqAI0ytR7rABvJsz1V1j5"
    "DI3D7KBb2ihd3xrl2KF4eCnHqmo5MeVYjoM2d8ipu2bUKA8j07pc+hHpMGymIdSna7cdfs"
    "djuJjbtmm9+ZGz40ZfKdZvMLqWRgmG0BbQpwQfi86g65B/HRwWInETs7wnALO36G/skA6x"
    "vA1aZQ9wg4FeA0+xbBhQ0L5iy4OF2Ou+4rnwcXh7e5sOrQoP0gk5Dp4TFhiFZjINMSMXFq"
    "EEjP+B3NsJHKU3twX6G3lR9dReaP0sJ6gx8CHRPwsK0ie64CPc4kEAcifnPcwcXsnNA8WX"
    "mfrQwJwiI2juudLLzPFl4eU6kk6kCToq9zuoGTzffZ5hqJc4rN3UnNLVi5yDFnmbt25Pn0"
    "LjIXfr8HYnUf0UqjezO9oNGTmrsx+m4PIg7T6hnvuj/6yOr2nFgiczM+P/0srrPNJLT9nc"
    "E/yDmjaX3PL5kpZ4xVGu6t7UBjgr7CRWqLlyPqZzEOXXiIR3jvge8E0mgycsA8TIRMuBR5"
    "ePLIcLmElBp9qdGSBcaYnkLMgaOrCdi0xBZtThLWTRdZosVLAAITRoc+Bh10HHtGUmlgjv"
    "yUUo/UOCWUHnlCKftNcc4/xgzqH9/55VrJpNUVyaTVdDKpY5swI73u735XydmeCxT4GMTQ"
    "cOW/imm4pW3/x7x57BkmNpB7Tvv7DIemgBLhRyrBlM8l5TyfNsAnmB7WmuAUHhZfFKSimf"
    "xPL59Ik/G2Nn3F2689aOady6X+VePAPCAvzHkvMzZpQMfQplnRiV+yMj4BUZ29CVByT3gz"
    "45OMw1zfpff3o7mVg9z8eOQXiTkzz87zQ5KYyhEmDYpXV+tk/l9d5Sf+07Lkp5C+VBsQ9q"
    "sfId1Soj6ayQFRRpSRH/fFVHYf+X3OjsTWYrwNvvbb/5i9/w8WoHHv"
)
