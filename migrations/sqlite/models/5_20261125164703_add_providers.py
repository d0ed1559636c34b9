from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "broadcasts" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "room_name" VARCHAR(128) NOT NULL UNIQUE,
    "paired_provider" VARCHAR(32) NOT NULL,
    "paired_stream_id" VARCHAR(128),
    "paired_stream_key" VARCHAR(128) NOT NULL,
    "paired_playback_id" VARCHAR(128) NOT NULL,
    "egress_id" VARCHAR(128),
    "egress_status" VARCHAR(16) NOT NULL /* IDLE: IDLE\nSTARTING: STARTING\nACTIVE: ACTIVE\nSTOPPING: STOPPING\nFAILED: FAILED */,
    "egress_error" TEXT,
    "egress_started_at" TIMESTAMP,
    "zero_viewers_since" TIMESTAMP,
    "publishers" INT NOT NULL,
    "room_delete_at" TIMESTAMP,
    "room_deleted_at" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "stream_id" CHAR(36) NOT NULL UNIQUE REFERENCES "streams" ("id") ON DELETE CASCADE
) /* A LiveKit stream's room and the paired stream (Mux or local) its RTMP egress feeds for HLS viewers. */;
CREATE INDEX IF NOT EXISTS "idx_broadcasts_egress__362aa3" ON "broadcasts" ("egress_id");
        CREATE TABLE IF NOT EXISTS "simulcast_targets" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "provider_target_id" VARCHAR(128),
    "url" VARCHAR(2048) NOT NULL,
    "stream_key" VARCHAR(512) NOT NULL,
    "status" VARCHAR(16) NOT NULL /* IDLE: IDLE\nSTARTING: STARTING\nBROADCASTING: BROADCASTING\nERRORED: ERRORED */,
    "error" TEXT,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "stream_id" CHAR(36) NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE
) /* A restream destination of a stream (RTMP(S) URL + stream key), e.g. YouTube or Twitch ingest. */;
CREATE INDEX IF NOT EXISTS "idx_simulcast_t_provide_366cdb" ON "simulcast_targets" ("provider_target_id");
        CREATE TABLE IF NOT EXISTS "webhook_events" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "provider" VARCHAR(16) NOT NULL,
    "event_id" VARCHAR(128) NOT NULL,
    "type" VARCHAR(96) NOT NULL,
    "object_id" VARCHAR(128),
    "occurred_at" TIMESTAMP NOT NULL,
    "received_at" TIMESTAMP NOT NULL,
    "payload" JSON NOT NULL,
    "status" VARCHAR(16) NOT NULL /* PENDING: PENDING\nAPPLIED: APPLIED\nSKIPPED: SKIPPED\nFAILED: FAILED */,
    "outcome" TEXT NOT NULL,
    "attempts" INT NOT NULL,
    "applied_at" TIMESTAMP,
    "stream_id" CHAR(36) REFERENCES "streams" ("id") ON DELETE SET NULL,
    CONSTRAINT "uid_webhook_eve_provide_466200" UNIQUE ("provider", "event_id")
) /* The webhook inbox: every verified delivery, keyed by the provider's event id (duplicates are dropped). */;
CREATE INDEX IF NOT EXISTS "idx_webhook_eve_object__66d14b" ON "webhook_events" ("object_id");
CREATE INDEX IF NOT EXISTS "idx_webhook_eve_occurre_371043" ON "webhook_events" ("occurred_at");
CREATE INDEX IF NOT EXISTS "idx_webhook_eve_status_051737" ON "webhook_events" ("status");
        ALTER TABLE "streams" ADD "recording_playback_id" VARCHAR(128);
        ALTER TABLE "streams" ADD "viewer_count_source" VARCHAR(16) NOT NULL DEFAULT 'LIVECAST';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "streams" DROP COLUMN "recording_playback_id";
        ALTER TABLE "streams" DROP COLUMN "viewer_count_source";
        DROP TABLE IF EXISTS "simulcast_targets";
        DROP TABLE IF EXISTS "webhook_events";
        DROP TABLE IF EXISTS "broadcasts";"""


MODELS_STATE = (
    "eJztXet34rgV/1d0+LLJaWZOQh4zS3t6DkmYGToEUiAz25YeR2AluDES60cydLv/eyX5gR"
    "+yYxtDjFdfEiPpyvbvytJ96eq3xoKoSDffjywDwUWjBX5rYLhA9CJScwQacLlcl7MCC051"
    "3tTkbXgZnNIfcGbR4geom4gWqcicGdrS0gimpdjWdVZIZrShhh/XRTbWfrWRYpFHZM2RQS"
    "v+9W9arGEV/UCm93P5pDxoSFdDz6qp7N68XLFWS152d9e9/sRbsttNlRnR7QVet16urDnB"
    "fnPb1tT3jIbVPSKMDGghNfAa7CndF/aKnCemBZZhI/9R1XWBih6grTMwGn95sPGMYQD4nd"
    "ifs7+6jxZopij9wVgZdcaK0siB3YxghruGLQbUb787/a4B4aUNdoOrL+3hwenFIYeAmNaj"
    "wSs5XI3fOSG0oEPKQV+jbGkWff0Y0FdzaIiB9gkiWNNHLYKyV7CGeT3EPAA9iLYAamMBfy"
    "g6wo/WnP5sHh+noPytPeRA01YcaUK/Cedb6btVTaeOIb5GOPhkMZzH6IclxjlCtju0G28w"
    "gMedX8as54Vp/qoHET24af/CwV6s3JreoP/Zax7gwFVvcBkB3prbiymGmq7Yhp5riEcJC4"
    "HvThdVHelnHzMN9bOPKWOdVYYxNy1o2aYY7A62FxzwLn0wiGcoBvyaelvDPT6Hj66+dK7v"
    "ep3rnMN+TdgC/uUE3w47t+1ht/+5BfzLCe51v3VagP2d4GHnatDvd67GvFHw1wR3+tesP/"
    "5vghnQlIQWeFcTfNXuX3V6/K7+ZaPAADi5yMD+k4tE5rOqMOuXBnnWVGTk+dKCNDuc4XQy"
    "g/q2prkwzqfNDDifNhNxZlVinBVHQlNEctLriIep6zfBnTSzzG+0VfIIb8ZmNx88aJrIKo"
    "p8kFgCnwl4d7A+oVUexMNUNZRXt4y1MofmvBjgPmk5qL+ui+0M84uzDJBfnCUizqois4oO"
    "V1M4e8o7n4TJagf0dmZwD7Ql0bVZwmzyuqAq6GaH4svt3WWve5VXXnWoqFjK/0/wqPu5z4"
    "VX/r+IDJmFP8ncifFGpzjh2UphxqiijIn2sUOujMbt/nV7mF+PcOkoJ9wrpiNc310x5rgX"
    "VIMYfKcKxOB7BfhkIHo3jGaW8kIBIS9xXnVxglFDRBphEX2FbbHo4nhbE9cje4R3zZOzD2"
    "cfTy/OPtIm/DH9kg8pLOj2xxGEGffoLSwN28Q2FdWmSAjNR4lAp/SwO7zPTpvH+wI5G5mG"
    "Su+oIMzeWbAUXxKiI4iTR3aMPgL1lHawLaz9kt0a7i4Hg17IcHfZjVrm7m4uO3Sd5vMLba"
    "RZSMyB2RxaBcGPku4Qd08+2lvYqcTOXRhm4YEvoJcMyM4AczZHqk2BU6AVx/6awmVpC5Sg"
    "cEVoI7irLvF772L/jAtpToPuTYeKTDe3IUZct8cdVtMMeQ280oOoRdPvBHzvjr8A9hP8c9"
    "DvRF1pfrvxPxvsmaBtEQWTFwWqQUy8Yq8oahw3rGJ8DlFKLleZy4hCWITHQTrJ4Spz2HFT"
    "KVTqwI9FP+d4B5LnFee5YZmKSSiLDLTQCn7kKd1I/lee/0y925T5gj4k56vM+WcNvSCDst"
    "HGAo4nWmCiZLszu+yLyWWJ4JNSEF0hrYQ4CnEQIbro2MYsV6xfAvkOjeosZOaqPRrnNKoX"
    "dTmVHhSzNgsW9PIldiAjBzI5/GYGgsV07jBlCWt0kfC0bYJP308dYH3l3ndP1mwXotQl21"
    "6qBZkeptwN03f7ye0n1wWSmvv0a66TF8oJ4fSavG0gSFPm5oHqyt+v7BVg2zEenoRbBThW"
    "cXA/EQNpj/grWsVc8xFE3d0ndybax9Cr372x45WuJyMDvvgbWEJDir48fWXkmP6pHHPVvu"
    "40OMZsJX+BhqokgD2FWBBGfelSffo6RHqSR9eFmcoU1iXENUI67i5cINOEj6gEpG6cnuqK"
    "FntTJwRA0cnjZnDd+H31nK7qCJjv1twMq6HbTV1hcscVMTbEydmReOP1Vle4oI4MqxSo2q"
    "ynusL0qw11zVrR6Z12NisFr787Xd7wHuuKm2uvMeFiqW+6KH7jfY14V3XHi679m0/1LmBO"
    "X3VFzNQWtj6DpqVY0HhEG89lXndj3ludUGNCPmmSgHAfEvvDVRGx1iBkkQzsAKMxoX+yCb"
    "ZDt6/9sgxmGoxzBHVrrjBvusCsnR8uZ6X4wnsdeZ3WELepQaDKvroyQLsMdlYTsNiXumgu"
    "It/uAmKqIapud4w4aNAQpNnwDB3JSTZs2kKm2Kh5ig3+P4ZzssvHa1+/HV2Z0mucpKTXOI"
    "mn1zCIUNT922jQT/CoeQRR6742s8D/gK5lmsqKuTPXo3lqa7qlYfM9u99bDGgGUMiwH0u5"
    "Ec2uERn5rINoyo398rZJx0txd1vMT5DFqG2uc0ptqs/v4QjIJptJu7+0+5eH1gPRdfKCNj"
    "XPfuLd1Bsk1o0EKdnSjxbTjcfRjdPJXFvWHCb6hhKqjD7JTb+7GvuOchkRc1otPDlBYLgI"
    "iBDJtgu+EHviyqv2i0Yb0Lbg4P7expam39/zxzkExAAQMJGe2Faw1kQWrXyglcxGAjQMCE"
    "bAESB/MgG7OYBYBb6f9n0jAvVu7iiwvvzLlXN5NTMB/XsTe0xiCLTQHCOIeXYl+OraCEqJ"
    "eU42v3D+5lVHfSK5N6M6EX/xQE/6mZmivBhp8dQeRQ0yqobNa+eZzGvnKea187h5jU6hGK"
    "nKdJUzsDJKJ4MrpansD2oqEyTXy/ctmSmpOuWHxESsnIAGSCSc6UHfa1F2w6jv2pltjyJx"
    "36GvVBz4HR22JcBa82D6wJeaN5Z+27qzZzlO0J8DhuVXdOigMbvcOICgJmoiWsuG0kbaqI"
    "wOKDs6wOdLDOtL7TFR+Q9S7W7b8/atAD83m6enH5rHpxcfz88+fDj/eOybA+JVaXaBy+5n"
    "ZhoIyXmCnHMEW0i08Tz5XI4ASS0ySqcJ19s4lUPqPcnfQH31HmflLsL1MKU0x1XZHOfxKr"
    "e1KEa4gRyxP/zNoeRS2Ockr5obIpKKrvicA2mK2QxSaTvYve3A+bCl9eA1WEMTYNXsB3xj"
    "ToLxwNu084rlgO0Tyuh+v0XGO2eUOZ5svmmGojZHwNMlAc/zhIwj58I8AkuNOXGAa6Dg3m"
    "8TWSxiwwQHzDtukBewRIbrJT+M++B3c9sJnuD7e51tS/N6vb8Hmgk0TJWGBVXXaHcadm5L"
    "0aaDBWLTcePTQvpcGjbZzlwAvbseAZP4j0jLDQQe4fLdg4HQBB9A+gi6jtR3bDi4xLzI5P"
    "dw3wiw2kP+/MRQkUEfwqYfjEHr8cw2DPpc4MXQaEv6XoyOvZdOKE1SaEFW00211rY3DS/Y"
    "jtUmNNbymW5ipLVJW7dj4437pebOHRijqw0DSjwNw5kck7BNG99x2trgu+MB7qyDnn8g52"
    "wuJJZqdUQH1MkLPyuKTsj0BqogZjfZBC+irc1QL+8sow1O83qDU7wGt51+TgcSp2kB9neC"
    "Pw16vcH3znDUAv7lBI/uLkdXw+4lLw/8iMrLWcK8yk9SihbEQgphhuf4TJ929kuYUJ52lO"
    "PUlymT8+n8/EI1g1zbV2OEchtruo+qwDZWmT80eS7aTx+VwH3hb7DIuI01bg963dLppdHY"
    "up2zCip2GVbO8kxs7m48gYFtvU8v2bzmbAnMaFu7v/e2Wd7fA5fSsQPNWRS0znaV3N+7Px"
    "SeH5Q2PPDlA8c0xp5CYEEru3NhmJB3C9Yg1JXcu/Kme1dksETdFqIswRKhLzCn2i+ilX7K"
    "iHznTXc5sY2QSVjT3b/BRUX6KdMEo8jAet0BHF6jJb6v4CuaFKvkDg7s9RfIq+FMAMkyay"
    "T1QBa51SFxfKUQmPaU1dMScLCEK4o8cBocioVMvkmWlqMfS43OClTWYJJnwLyVLNPu7sZC"
    "edfpXUq71ZJ21+zMK+2GKWWQaHWsLALpVuo0UqeROk3ZOo2zpOVENkQkIU3XZ9ZCg5S206"
    "Tt0KCSuswfTZcJnQ4kUmeixwelaDSxU4teV2q+zwlQNRW8MLO3Reh/sjiifxEGB09oaQH4"
    "4IRmYieqU9fob1WgpGzSUck5uaVmsaFmQUdM/t0zARq5NEb3I/mnWsXjehLhFGfx289ts+"
    "GYnNNmhpic02ZiTA6rCgPsHK+iFEhuEqeUUX9hbFVkQVFKuOTBu6aoXdawk+OsWflT0/LH"
    "Eoftl5ovD16W6a2qM1nJPZVvEG20Mw3JPxNUoBwFzwtN1otCh5O+rhINMAJoQf6j+blrAc"
    "tlC2gjRLUZOgA1XniwRMaMbUojD+BFU60537o2p+Nqbh2B43fs9JW4nlR67yUrT2l7VWqm"
    "P+1kf0pKpl2Zia9MMZV/VHmkVJ9AalgZNCxvYlJ+CFZTncCEKSNMFkH6gdHtIdYp2F4P7i"
    "57HXA77Fx1R1032N6XOXklK1rvdRh22r0kqAUbTLJALdpeIqEWQi3VLql2SbVLql1S7Yqq"
    "XaPIMTEC7Sva5ChNCXNfdOG13nL+VnmSyJt7kfZrbZWRS3JxrdDiKlP2S1llD2UVmbK/Ji"
    "n7ncHc1pFhJYt+TnUWsQ+ylpmPvpsjqDODNyNyzphzumkBZjF/RuBlrumI7XTQETS4oODs"
    "jWAvITrZbvMOX7eyB6XPdTcN2ipYQ4eC6VbkkkblSQJl56R7ou+Xx1zstZfW4gzWYhM9I0"
    "OzBAbMbKmMgvRVBpyqQZ8GLcD+TvD39rDf7X9uAfdigq+G3XH3qt1rAe8qOjllYc/HDNz5"
    "mMicj1HeLNZHrWQd+wGSKnOj4PDfykmA64k+hnO68hsirKHuuye6brbNWet1PieXw5RyC1"
    "6VuSxNGlIHr4q6WHF/wReuaI1Y2vJGotoYbHSUQXl0tLdsyuOtn+e85ap71pwOwznRVUCo"
    "TGloKstPjlWeFEqnj2BannpowsWSaoGZU7Vv7UYylXl11Uafy7nSUIapqpGDkt22NjkonQ"
    "9Mcb6sPJyJEW7EnP2RwmQmUOnyKyYgy0ygVRf6ShDk/m5DXbNWN4i+wSxZlAs3yyLM/epQ"
    "KAtOkiMkPyw7BYz44AACNikAExkaMv8MlrZB38zdcHx/7xAqBmIHkbL4SBWuzPv7hNj88m"
    "/Djtu5w5pltsBUs9jgZCftsGvTkfx4Pvwj8GCws3ZYPavmv8INVEN7YGfvgIWm0/XISaN/"
    "BJ7QijeeYI0do/MMdS52LpCqQXYKD6PwG6sGWS7pU7vds4ZLOmyQBXRi8udy9x0cUcnUxu"
    "o7Cs7SeW92Y7OAM8SBsoDPQ25FYHW72IoQYFHOdTtMWb8w2P1dpkV2LGjZArUlo0vGp66y"
    "C6DR+eWq0+t1+uMW8C8n+PNgcN0C7O8E3w4GwxZgf+m83P/aH3zvt4B7UcQ9U/4JE3yiVx"
    "YCVqWE/weJCgb/74/2UkbsvwOYip41J2dKIbyj5BL5DMg/ayoiiisM5Vv3Y6SFjhCqGNxv"
    "c14WtFWtIBdipJILRbnABXFFzIKU2SdMJmedDLMO30UdBzlxkPvtazS4SzunzNmIngPNNY"
    "GEMw6np8MrngqfazIQUss5Icv+T6KimVgjSojb8AgKKUEVAzesx1ycZdBjLs4S9RhWFdmS"
    "jxlcgiDwlE35a5L6IXzSzBLKR1sl64pNQTifqkHlES5zTRkhKjlVZFIXueVUcSynOVXFKK"
    "lEPEseBG6YVphhOhfcETqJdQasDSu3wWlNIhHOOJrhIzIUc4mQwNvxyoAOk0rEMyBerVio"
    "6mIt4zY3hnV/4za/aegFGSMn/Eng5w/VH6U5+J95SzeSKqNj/4rgmW0YLM+dQ246Lnedbc"
    "pz/e7QAixQckEWrJkgaJJfOuRgRmzaiBZoRJSlfAf3y+ccl07xyjrF8zvDaxu8VicvOP9i"
    "cxgu/faF7JZV42TZhkspY0kZS8pY2WQsZJoJeYzDDTJJWU7bHPGTSx2ueDAhJ+TRjHAKiA"
    "FYCMMM8bMjmazjCja0CfvlYCoOldyoRxYV+d3QLAuxWEey4Ntk3JamRcc2mK54mSNbabOw"
    "xHWACRPTZrweTBGko+PwPbi2nQNwzPRoxaAE5gLqjBr3XdivjZKHSSltV1JaiH1ZvQwhoi"
    "qHs1XJ0RD4NnJAHaaSWGfE2oJGsY00YUqpi1RaF9Eh23qGkOBoqHQuhwglkyvNZNPb6Jx5"
    "yvQI6jhblh4s/QKt2Vzou0oTwoJUu1Psj2sgiq2Rn9oPD4g9V270o5SSA8U4gAzDzaSc0Z"
    "i1JqgN5KWZshIjoZOHcS0DoEsDFNHXEOnGhOgI4qT4L1Xo4Z5Som0NUL9kt4LM5WDQC8kw"
    "l93IB9+/u7ns0OXwMOzqllZYaYWVVtjcVthLg0B1RhWnhsACu648SrO+Tr1mmXPZ9rRn9F"
    "WzXLPnTyYwCFn4eYGWUDOQ6u8wv7F/MPupTmZQPwRsg/hwTHUUxMapCR4QUulf2uBLb+T5"
    "r0Xpbndyz5LPnZMJbsvOVMSYrvAfMbCTdc8QUTn659saqbdvq3O+J2VpELY5MVe0u4C0hj"
    "r/Fg6jc3BLEXtexTxN+pFbDVJHugvdE0pI75wFd5e4hqN9q3OMDldMGCo25CPUEvts2DuS"
    "UE7IQ0Rbml5qto66kG2WpSTWye5GeaN77QSl50lXwmhagP2d4NG4PRzzBPLe1QS3r8bdb7"
    "SF85+1Gdzeum2cqwn+1O72Otct4PyP6gNvY5V3+cDtjXFejtGPJANlhK4OK3OaM6vzyzhk"
    "A4plYfR9Wb1B/7PXPJqaMelDKuhDFnYgc5RX2cn4X2QQxVXPFVNzp8Y8TBf3ILleZa4v7a"
    "mumXOUywcUJpJ+oKgxnZtAHKtlkeM7YtTyE6ryJxTgV6HTWuLkkt9V5rc8lTZ5It3PFNVZ"
    "TqWVicnrxnXBx+4+fVXd4lVINV6GUzyP91Zmeq9ypndtYevMmT2GxiMSusWjTY5SM7x7jR"
    "WLt87sI6cDznFG0xpLw3wHTzj1OnNJH4wOwd2wB/7klT6h1eERQO8f34N/EHtsTxFzZI9f"
    "NGs2B5QbtDORd3zLd5N+8QpMWkcpfnHP2+qO0ry+FCG1tPBnsfDbhiCvYTLUbvMa+qmax2"
    "dZ4GXNEvF1KoVxgDk9s7V3yZ6fZIlAoK2SD3g9iR9xvHfZ9LfioLocDtrXVDhxyoO/Jrgz"
    "HA6GzDPlXlTENZXbJyWdUcWdUdLekjzQ91PzlvaWPyLX98/eUt2JVm5D2BjW/d2G8B1N54"
    "Q8dZ4RFppcQvVHafaWF6elgljTjMaW8RwBlw5oeEp+tAAlN1aA/tHoG6iA3kZjJfxgOfrb"
    "S8Pi6r0/mYDfD2gqOFDtpa7N+Il20EDe4XKCvHu7u60w20swwJp3s3GCF2mW2ZZZpogxpq"
    "Z66xZ0H2/w5wA5SFNHkLdh6eIA5cDYa19DfH/OMoh/Th7EP8cGMZn+B83yjuIQkTTXZhnE"
    "ZMZz5RbR4iKk8lzQ6mhtghAoNENU9ioU/hQmlep6VRifxUizhCudQMEs+rfRoJ+0k8gnif"
    "Jam1ngf0DXzH1Mi5vCVQZGulU0agCNcIp1ELWKVt15ENcwbjv9627/c173gUvWAu7FBLdv"
    "b3td5hRwLyZ49LV7e8tK3Itq7mghtjUjos3UyY6DAMkOvTxvoPZtxXMALQstllae0PYgiQ"
    "xsjx34ulzqWqFlPkwpA5yrLM29qRF+f/i6Tzb4aqK6gQmePgHo3/V6b2WDbyNDm80bAuu7"
    "W3OUZneH6zav2duTMS05TPCPkm18w8UwJY84Mrzk+1lNSgGSGtrtmufnWULUzs+TI9RYXU"
    "wEyYOw27yG6J4cH2dRUI6PkzUUVhc9zRhbSHS4TbJCHyCRCn1OhX6jnRGbLma//x9vwDyY"
)
