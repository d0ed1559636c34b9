from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "viewer_samples" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "at" TIMESTAMPTZ NOT NULL,
    "count" INT NOT NULL,
    "stream_id" UUID NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_viewer_samp_stream__f85ca9" ON "viewer_samples" ("stream_id", "at");
COMMENT ON TABLE "viewer_samples" IS 'Concurrent viewers of a live stream at one moment (one row per stream per viewer count period).';
        CREATE TABLE IF NOT EXISTS "viewer_sessions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "viewer_id" VARCHAR(128) NOT NULL,
    "session_id" VARCHAR(128) NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "last_seen" TIMESTAMPTZ NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "watch_ms" BIGINT NOT NULL,
    "buffering_ms" BIGINT NOT NULL,
    "errors" INT NOT NULL,
    "bitrate" INT,
    "ended" BOOL NOT NULL,
    "stream_id" UUID NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_viewer_sess_stream__a7c9cf" UNIQUE ("stream_id", "viewer_id", "session_id")
);
COMMENT ON TABLE "viewer_sessions" IS 'One player session (a tab or device) of one viewer on one stream.';
        ALTER TABLE "streams" ADD "viewer_count" INT NOT NULL DEFAULT 0;
        ALTER TABLE "streams" ADD "peak_viewer_count" INT NOT NULL DEFAULT 0;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "streams" DROP COLUMN "viewer_count";
        ALTER TABLE "streams" DROP COLUMN "peak_viewer_count";
        DROP TABLE IF EXISTS "viewer_samples";
        DROP TABLE IF EXISTS "viewer_sessions";"""


MODELS_STATE = (
    "eJztXWtzmzoa/isaf9l0Ju0kTppmszs74zhu6z2JnZNLe+Yc72DZKDFbLLkg4mbO9r+vJC"
    "7mIghg7GCOviQY6RXwvEK8d/3ZmhMdmfa7W2ohOG+dgT9bGM4RO4i17IMWXCxW5/kJCiem"
    "6GqLPuIcnLAfcErZ6Qdo2oid0pE9tYwFNQhmZ7FjmvwkmbKOBn5cnXKw8d1BGiWPiM6QxR"
    "r++A87bWAd/UC2/3PxTXswkKlH7tXQ+bXFeY0+L8S5+/v+xUfRk19uok2J6czxqvfimc4I"
    "Dro7jqG/4zS87RFhZEGK9NBj8Lv0Htg/5d4xO0EtBwW3qq9O6OgBOiYHo/XPBwdPOQZAXI"
    "n/Of6Xd2uhbpo2GN5pt707TWsVwG5KMMfdwJQD9edPd9wVIOJsi1+g+7lzs3d08kZAQGz6"
    "aIlGAVfrpyCEFLqkAvQVytSg7PETQHdn0JIDHRDEsGa3WgZl/8QK5tUU8wH0IdoAqK05/K"
    "GZCD/SGfvZPjjIQPlL50YAzXoJpAl7J9x3ZeA1td02jvgK4fCdJXC+Qz+oHOcY2fbQbr3C"
    "BL7r/XbHR57b9nczjOjeVec3Afb82Wu5HA4++d1DHOheDs9jwNOZM59gaJiaY5mFpnicsB"
    "T43nJR15l+fJprqh+fZsx13hjF3KaQOrYc7B525gLwPrsxiKcoAfyKelPTPbmG33Y/9y7u"
    "L3sXBaf9ivAMBIcjfH3Tu+7c9AefzkBwOMKX/S+9M8D/jvBNrzscDHrdO9Ep/GuEe4MLPp"
    "74N8IcaEbCTvhHI9ztDLq9S3HV4LBVYgIcnuRg/+FJKvN5U5T1C4s8GTqyirxpYZotrnAm"
    "mUJzU8tcFOejdg6cj9qpOPMmOc6aK6FpMjnpZcSj1M1b4A7bedY31it9hrcTq1sAHrRtRM"
    "siHyZWwOcC3pus39BzEcSjVA2UVzeMtTaD9qwc4AFpNai/rIttDfOT4xyQnxynIs6bYquK"
    "CZ8ncPqt6HoSJWsc0JtZwX3QFsQ0pimrycuCqmSYLYov1/fnl/1uUXnVpWJiqfg/wrf9Tw"
    "MhvIr/ZWTIPPxJ506CNybDCU+fNW6MKsuY+Bhb5MrtXWdw0bkprkd4dIwT3hHXES7uu5w5"
    "3gHTIIZfmQIx/FoDPlmIXQ2jKdWWDBCyTPKqj1OMGjLSGIvYI2yKRScHm1q4HvktvG0fHn"
    "84Pj06OT5lXcRtBmc+ZLCgP7iLIcy5xy5BDewQx9Z0hyEhNR+lAp0xwvbwPj5qH+wK5Hxm"
    "Wjq7ooYwf2bJp/icEBNBnD6zE/QxqCdsgE1hHZzZruHufDi8jBjuzvtxy9z91XmPfafF+s"
    "I6GRTJOTCdQVoS/DjpFnH35aOdhZ1J7MKFYZee+BJ6xYD8DLCnM6Q7DDgN0iT2FwwuasxR"
    "isIVo43hrnvE7/yD3TMuZDkN+lc9JjJdXUcYcdG56/GWdsRr4J/di1s0g0HA1/7dZ8B/gt"
    "+Hg17clRb0u/u9xe8JOpRomCw1qIcx8U/7p+LGcYuW43OEUnG5zlxGDMIyPA7TKQ7XmcOu"
    "m0pjUgd+LPs6JwdQPK85zy1qazZhLLLQ3Cj5kmcMo/hfe/5z9W5d5kvGUJyvM+efDLREFm"
    "OjgyUcT7XAxMm2Z3bZFZPLAsFvWkl0pbQK4oRNhWnn5TSOKGUFK1SZ4JxN+prY8+lDbD57"
    "192RFcuDKHPBchZ6SaZHKbfD9O26z3eT65LvlHf3K66TJeOE1IWcHjQdpqkydLq+0scLkd"
    "I8GP3hmzRQWmCVBPcjsZDxiH9BzwnHZAxRL/b+3ka7GHjy0587/tnVYmTBZRC+H5lS7OHZ"
    "IyPX8Nnt3HY7F72WwJj7zpfQ0rUUsCcQS4JIzz2qj7/cIDPNn+XB3J1Beg5xg5BOOkvmyL"
    "bhI6oAqSt3pKaixZ/UdYBqJnlcD66rYKxLd6gmAhY4ddbD6sYbpqkwefOKWGvi5OZjXfmj"
    "NRUuaCKLVgJVh4/UVJi+O9A06DNb3tlg00rw+tUd8kqM2FTcPHOADecLc92P4hcx1q0Yqu"
    "l4sW//+ku9B5g7VpMQ4+IqaZOQmBoRYKNNMQHNImSeDusQozvC/uQT0W68sXbSEJw9EWcI"
    "mnSmca+YJPCzOFzumvdZjHrrD9oQ3Pjkm7fnsek4h5iJ77o3HCcOa5uSDHBfC03P/3ZYD5"
    "X93fDsb/E/gXN6zoHfv3nJBrkyvw8zMr8Pk5nfFpHKIf++HQ5SYul8grjp1ZhS8D9gGvbG"
    "hN7QbJ44hkkNbL/j13uNCc0BilhdE9ng8cTv2MznA8SzwXfLFaKs4uV9IQkjbh6Lo70qd7"
    "KusrWDMyCXmKaMssooWyFaD8Q0yRKtazv7KIZpNkh8GAVSuhkWzSdrz6Mrd5CZsWg4TOwJ"
    "FVQ5HUbrvncNNuwXsosVtFr4coLEcBESIdJtF+JD7IsrL9ovWh3A+oK98djB1DDHY3E7bw"
    "CxAARcpCcODbfaiLLGB9bIbSTAwIBgBFwB8m824BcHEOsgcKK9a8Wg3s4VJdaXPzw5VzRz"
    "E9B/1rHHpEbnSc0xknA8T4Kvr42gknC8dPOL4G9RdTQgUmHD9QnHSkbhsdfMlqVspxvXVh"
    "QNKPYXNa+9z2Vee59hXnufNK+xJRQjXZs8F4x6i9OpyDdlKvuLmsokdZ+KvUt2RhU59SJx"
    "EasgoCESBWd2RO5KlF0zJLdxZtv9WFBu5C2VR+XGp20FsDY80jn0phYNdN607uxbjlP055"
    "Bh+QUdOmzMrjYOIKyJ2oi18qm0ljaqogOqjg4I+JLA+tx4TFX+w1Tby8jbvBXg7+320dGH"
    "9sHRyen74w8f3p8eBOaAZFOWXeC8/4mbBiJyniR1j2CKZDmR6SXjQySNKHaaJVxvomC80n"
    "vS34Hm6j3ul7sM16OUyhxXZ3Ocz6vC1qIE4RpyxO7wt4CSy2CfkaJqboRIKbryEtzKFLMe"
    "pMp2sH3bgftiK+vBS7BGFsC62Q9ErkmK8cDPQ3nBcsBTX3K636+R9dadZa4nW+SBMNRmCP"
    "i6JBA1XpC17x7Y+2BhcCcO8AwUwvttI8ojNmywx73jFlmCBbI8L/mbpA9+O5cd4REej01o"
    "U80fdTwGhg0MzJSGOVPX2HAGdi/L0GaTBWLbdeOzk+y+DGzztEkA/avuA5sEt8jOWwg8ws"
    "XbBwuhEd6D7BZME+lv+XTwiMUpW1zDeyLAW9+I+yeWjix2Ew57YSzWjqeOZbH7AkvLYD3Z"
    "c3E6/lwmYTRpoQV5TTf1+ra9anjBZqw2kblWzHSTIG1MRaUtG2+8N7VwWasEXWMYUGGhdn"
    "dxTMM2a34naRuD75YnuPsd9P0DBVdzKbFSq2M6oEmWYhsTtiCzC+iSmN10E7yMtjFTvbpt"
    "NtbYaOYVNpgZXvcGBR1IguYM8L8j/HF4eTn82ru5PQPB4Qjf3p/fdm/65+J86EdcXs4T5l"
    "X9ppJoTijSCDc8J1f6rG0JooRqI44CGxJMuJzP1ucl0wwKpa8mCFUaa7aPqkQaqyrumL4W"
    "7aaPSuK+CBIscqaxJu1BL1s6/XIaG7dz1kHFrsLKWZ2JzcvGkxjYVnl66eY1NyUwp21tPP"
    "bTLMdj4FG6dqAZj4I2eVbJeOz90ETxRtZxL5APXNMYvwuJBa3qwaVhQv4leIfIUCp35VVz"
    "V1SwRNM+RHmCJSJvYEG1X0ar/JQx+c5f7gpiGyNTsGa7f8MfFeWnzBKMYhPrZQdw9But8H"
    "0BX9miWCd3cCjXXyKvRisBpMussdIDeeRWl8T1lUJgOxPezs6AvQV8ZsgDt8MbuZApkmTZ"
    "efRjYbBVgckaXPIMmbfSZdrtXVgq77qjK2m3XtLuip1Fpd0opQoSrY+VRSLdKp1G6TRKp6"
    "lap3E/aQWRjRApSLP1mZXQoKTtLGk7MqmULvNX02UiW7fI1Jn43i4ZGk1iS5mXlZqvMwJ0"
    "QwdLbvamhP0n8332F2Gw9w0tKIAPbmgmdqM6TYP91iVKyjoDVVyTW2kWa2oWbMYUz54J0a"
    "hPYzwfKdhyKBnXkwqnvIrfbqbNRmNyjto5YnKO2qkxObwpCjCFFls7tBLFTZKUKuoviq2O"
    "KJSVhEufvCuKxlUNOzzIW5U/syx/onDYbqn5aldcVd6qPouVyql8hWijrWlIwYaNEuUovJ"
    "ljul4U2TnyZZVoiBFAc/JfI6hdC3gtW8A6IabNsAloiJN7C2RNeVIaeQBLQ6czkbo2Y/Nq"
    "RvfBwVu++0pST6p89IqVp6xclYbpT1vJT8motKsq8VUppoqXqoiUGhAoDSuHhuUvTNoPyd"
    "fUJDBlyYiSxZB+4HQ7iHUGthfD+/PLHri+6XX7t30v2D6QOUUjP7XKdbjpdS7ToJYkmOSB"
    "WpZeoqCWQq3ULqV2KbVLqV1K7YqrXbexbWIk2le8y36WEuY9aHR7+s3Vb1U7iby6F2m3vq"
    "0qckl9XGv0cVUl+5WssoOyiirZ35CS/e5k7pjIoumin9ucR+yDvGfure9mCJrc4M2J3D3m"
    "3GHOALeYPyGwnBkm4pkOJoKWEBTc3Aj+ELKd7dYf8GUre1j6XA3TYr3CLWwq2F5DIWlU7S"
    "RQdU26b+z5ipiL/f7KWpzDWmyjJ2QZVGLAzFfKKExfZ8CZGvRxeAb43xH+2rkZ9AefzoB3"
    "MMLdm/5dv9u5PAP+UXxxysOe0xzcOU1lzmmcN/PVVit5536IpM7cKDn9N7IT4GqhT+Ccrf"
    "xGCBuo++6IrpsvOWv1nS/I5SilSsGrM5eVSUPp4HVRF2vuL/gsFK1bXra8lao2hjvt51Ae"
    "Xe0tn/J4HdQ5P/PUPTpj03BGTB0QJlNahs7rk2NdFIUy2S3Y1FcPbThfMC0wd6n2jV1IlT"
    "Kvr9oYcLlQGcooVT1qUPLLNqYGpfuCae6bVYQzCcK1mLM7UpiqBKpcfuUEZFUJtO5CXwWC"
    "3K8ONA36fIXYE0zTRblotzzC3HeXQpsLkgIh+VHZKWTEB3sQ8EUB2MgykP0PsHAs9mRewv"
    "F47BJqFuIbkfL4SB0+2+NxSmx+9Zfh2+3cY4PaZ2BiUD45+U47/Nh2JT9RD38fPFh8rx3e"
    "zpvFr2gH3TIe+N47YG6Y7HvkltHfB9/Qs+g8wgbfRucJmkLsnCPdgHwXHk4RdNYtsliwu/"
    "aG5x0XbNogCkxii/vy8g72mWTqYP0tA2fhPje/sF3CGeJCWcLnoVIReNs2UhFCLCr43Y5S"
    "Ni8Mdnc/0zI7FqSORG3J6ZIJqOvsAmj1fuv2Li97g7szEByO8Kfh8OIM8L8jfD0c3pwB/p"
    "ety4NfBsOvgzPgHZRxz1S/w4RY6LW5hFUZ4f9hopLB/7ujvVQR++8CpqMnw62ZUgrvOLlC"
    "PgfyT4aOiOYJQ8W++wnSUlsI1Qzu19kvCzq6UZILCVLFhbJcEIK4JmdBxuoTJVOrTo5VR2"
    "RRJ0FOneRB/wZN7sr2KXMT0QuguSJQcCbh9HV4zVfhCy0GUmq1JuTJ/yQ6mso1opS4DZ+g"
    "lBJUM3CjeszJcQ495uQ4VY/hTbGUfMzhkgSBZyTlr0iah/BhO08oH+uVriu2JeF8ugG1R7"
    "gotGREqNRSkUtdFJZTzbWcFlQV46QK8Tx1EIRhWuOG6UJwx+gU1jmwtmhhg9OKRCGcczbD"
    "R2Rp9gIhibfjhQkdJVWI50C8XrFQ9cVaxW2uDevuxm1+MdASWbdu+JPEzx9p389y8D+Jnl"
    "4kVU7HfpfgqWNZvM6dS267LneTJ+V5fndIAQ+UnJM57yYJmhSHLjmYEod1YicMIqtSvoXr"
    "FXOOK6d4bZ3ixZ3hjQ1ea5IXXLyxBQyXQf9Sdsu6cbJqw6WSsZSMpWSsfDIWsu2UOsbRDr"
    "mkLLdvgfjJhQmfRTChIBTRjHACiAV4CMMUib0juazjCTasC//lYioPlVxrRB4V+dUyKEU8"
    "1pHMRZqM19OmbG6DybM458pWxjQqce1hwsW0qWgHEwTZ7HjzDlw47gY4dna0YlgC8wB1Z4"
    "33LPzXWsXDlJS2LSktwr68XoYIUZ3D2erkaAi9GwWgjlIprHNiTaFVLpEmSql0kVrrIibk"
    "qWcISbaGyuZyhFAxudZMtv1E59xLpk/QxNWy8mDpJaTTmdR3lSWEham2p9gfNEAUWyE/cR"
    "4eEL+vwujHKRUHynEAWZZXSTmnMWtF0BjIKzNlpUZCp0/jRgZAVwYoYo8h040JMRHEafFf"
    "utTDPWFEm5qgwZntCjLnw+FlRIY578de+MH91XmPfQ7fRF3dygqrrLDKClvYCtthEsd01p"
    "KYX72W/Sy7K1z1qXTTgnWsjH8VE+PGtih4QpZvcc9tOlyRNFA9a79/n0M/Y71SFTTRFks0"
    "W0hikzO2vl7IgpKbgO5h3r2Ds7YOTuwcTDCvOJFEOL3mUYhk+6WoXufLX1m5o7UK36z7Mf"
    "v5f2CrWk8="
)
