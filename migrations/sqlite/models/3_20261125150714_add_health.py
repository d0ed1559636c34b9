from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "stream_alerts" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "kind" VARCHAR(32) NOT NULL,
    "severity" VARCHAR(8) NOT NULL /* INFO: INFO\nWARNING: WARNING\nCRITICAL: CRITICAL */,
    "message" VARCHAR(500) NOT NULL,
    "raised_at" TIMESTAMP NOT NULL,
    "cleared_at" TIMESTAMP,
    "stream_id" CHAR(36) NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE
) /* A health alert of a stream: active while ``cleared_at`` is null. */;
CREATE INDEX IF NOT EXISTS "idx_stream_aler_stream__076592" ON "stream_alerts" ("stream_id", "cleared_at");
CREATE INDEX IF NOT EXISTS "idx_stream_aler_stream__ff58f7" ON "stream_alerts" ("stream_id", "raised_at");
        CREATE TABLE IF NOT EXISTS "stream_health" (
    "thresholds" JSON NOT NULL,
    "latest_sample" JSON,
    "updated_at" TIMESTAMP NOT NULL,
    "stream_id" CHAR(36) NOT NULL PRIMARY KEY REFERENCES "streams" ("id") ON DELETE CASCADE
) /* Per stream: alert threshold overrides and the latest health sample (one row per stream). */;
        CREATE TABLE IF NOT EXISTS "stream_quality_metrics" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "sampled_at" TIMESTAMP NOT NULL,
    "status" VARCHAR(16) NOT NULL /* EXCELLENT: EXCELLENT\nGOOD: GOOD\nPOOR: POOR\nUNKNOWN: UNKNOWN */,
    "drift_ms" REAL,
    "drift_deviation_ms" REAL,
    "video_bitrate" BIGINT,
    "audio_bitrate" BIGINT,
    "frame_rate" REAL,
    "width" INT,
    "height" INT,
    "keyframe_interval" REAL,
    "codec" VARCHAR(64),
    "encoder" VARCHAR(128),
    "media_gap" REAL,
    "dropped_frames" REAL,
    "packet_loss" REAL,
    "rtt_ms" REAL,
    "packager_speed" REAL,
    "stream_id" CHAR(36) NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE
) /* One health sample of a stream (a time series; purged after ``health_retention_days``). */;
CREATE INDEX IF NOT EXISTS "idx_stream_qual_sampled_599244" ON "stream_quality_metrics" ("sampled_at");
CREATE INDEX IF NOT EXISTS "idx_stream_qual_stream__6aefd8" ON "stream_quality_metrics" ("stream_id", "sampled_at");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "stream_alerts";
        DROP TABLE IF EXISTS "stream_health";
        DROP TABLE IF EXISTS "stream_quality_metrics";"""


MODELS_STATE = (
    "eJztXW1z4jgS/isqvlymKjOVkJfJcVdXRQgzwy6BLEk2W7tsGQUrwTdGZmw5TGpv/vtJ8g"
    "t+kY1tDDFefUmMpJbtp2Wpu9Xd+qsxN1SkWx9uiYngvNECfzUwnCN6Eak5BA24WKzKWQGB"
    "jzpvavE2vAw+0h9wSmjxE9QtRItUZE1NbUE0A9NSbOs6KzSmtKGGn1dFNta+2UghxjMiM2"
    "TSij/+pMUaVtF3ZHk/F1+VJw3pauhZNZXdm5cr5HXBy+7ve1efeEt2u0dlauj2HK9aL17J"
    "zMB+c9vW1A+MhtU9I4xMSJAaeA32lO4Le0XOE9MCYtrIf1R1VaCiJ2jrDIzGv59sPGUYAH"
    "4n9uf0P+6jBZopymB4p9x27xSlkQO7qYEZ7homDKi/fjj9rgDhpQ12g86X9ujg5Pwdh8Cw"
    "yLPJKzlcjR+cEBLokHLQVygTjdDXjwHdmUFTDLRPEMGaPmoRlL2CFcyrIeYB6EG0BVAbc/"
    "hd0RF+JjP6s3l0lILyr+0RB5q24kgb9JtwvpWBW9V06hjiK4SDTxbD+Q59J2KcI2S7Q7vx"
    "BgP4rvvbHet5blnf9CCiB9ft3zjY81e3pj8cfPaaBzjQ6Q8vI8CTmT1/xFDTFdvUcw3xKG"
    "Eh8N3poqoj/fQi01A/vUgZ66wyjLlFILEtMdhdbM854D36YBBPUQz4FfW2hnt8Dr/tfOle"
    "3fe7VzmH/YqwBfzLMb4ZdW/ao97gcwv4l2Pc7/3abQH2d4xH3c5wMOh27nij4K8x7g6uWH"
    "/83xgzoCkJLfCuxrjTHnS6fX5X/7JRYAAcn2dg//F5IvNZVZj1C9N40VRk5vnSgjQ7nOF0"
    "Ywr1bU1zYZxPmhlwPmkm4syqxDgrjoSmiOSk9YiHqes3wR03s8xvtFXyCG/GZjcfPGhZiB"
    "RFPkgsgc8EvDtYv6LXPIiHqWoor24Za2UGrVkxwH3SclBfr4vtDPPz0wyQn58mIs6qIrOK"
    "Dl8f4fRr3vkkTFY7oLczg3ugLQxdmybMJusFVUE3OxRfbu4v+71OXnnVoaJiKf8/xre9zw"
    "MuvPL/RWTILPxJ5k6MNzrFCU9fFWaMKsqYaB875MrtXXtw1R7l1yNcOsoJ94rpCFf3HcYc"
    "94JqEMMHqkAMHyrAJxPRu2E0JcqSAmIs47zq4QSjhog0wiL6Ctti0fnRtiauZ/YI75vHpx"
    "9PL07OTy9oE/6YfsnHFBb0BncRhBn36C2Ihm3DthTVpkgIzUeJQKf0sDu8T0+aR/sCORuZ"
    "pkrvqCDM3lmwFF8aho4gTh7ZMfoI1I+0g21h7Zfs1nB3ORz2Q4a7y17UMnd/fdml6zSfX2"
    "gjjSAxB6YzSAqCHyXdIe6efLS3sFOJnW9hWIUHvoBeMiA7A6zpDKk2BU6BJI79FYWLaHOU"
    "oHBFaCO4qy7xB+9i/4wLaZsGvesuFZmub0KMuGrfdVlNM7Rr4JUeRC2afifgoXf3BbCf4P"
    "fhoBvdSvPb3f3eYM8EbWIo2FgqUA1i4hV7RVHjuEmK8TlEKblcZS4jCmERHgfpJIerzGFn"
    "m0qhUgd+Lvo5xzuQPK84z01iKZZBWWSiuVbwI0/pRvK/8vxn6t2mzBf0ITlfZc5PqYZTTG"
    "oLU5bA5SIODtu019P3U4dYf3XvuydcdyFKZbq9UAsyPUy5G6bvdgtyP7ku+Nbdp19x3VhS"
    "Tgi34ZIdT4M0ZbqfVncGX+Ntyhx6n74KnU05VnFwPxkm0p7xz+g1trkTQdT1X7630D5u3v"
    "/wxo5XupqMTLj0XaBDQ4q+PH1l5BiPOu3bTvuq2+AYs/3HJTRVJQHsR4gFjniXLtWnn0dI"
    "T9oTcGHuzCC5hLhGSMcNznNkWfAZlYDUtdNTXdFib+psIim68bwZXNd+X32nqzoC5hvGN8"
    "Nq5HZTV5jccWWYG+LkxLRce73VFS6oI5OUAlWb9VRXmL7ZUNfIK53eaWfTUvD6xenymvdY"
    "J9yYMGE0jYAQERIvwlWR5dM0jHkyuEOM7gz6J9sCOnL72ktTR/pwnCGok5nC7L4C16b8cD"
    "kj8gvv9dbrtCa4scE3b84jw3EOMRWuVLc7RhzUBQQxjp6OkBzhaNMWMr6x5vGN/H8M52Sv"
    "Wq99/dxpM8U2HqfENh7HYxtNQxepTj/dDgcJ3iIeQdQwpk0J+B/QNWtrIklgND/amk40bH"
    "1g93uLAc0ACtnEYvGO0dDGyMhnHUTjHffLUC1tlsUt1TETWxZ7UCCgf1NReA9HQCYxTZrM"
    "pMmsRLSeDF03lmhTy8Yn3k29QWLdSJCSjWRo/rjxOLp2Oplpi5rDRN9QQpXRnL/pd1djs2"
    "suu1hOq4UnJwgMFwERItl2wRdiT1xZa79otAFtCw4mExsTTZ9M+OO8A4YJIGAivWGTYK2F"
    "CK18opXMRgI0DAyMgCNA/sMC7OYAYhX4WxwfGhGod3NHgfXlD1fO5dXMBPTnJvaYxPgqoT"
    "lGEErlSvDVtRGUEkaVbH7h/M2rjvpE0jGuOs4ycR8p+plZoqDEZOPaiqIG6azC5rWzTOa1"
    "sxTz2lncvEanUIxU5fE1p09SlE76JUlT2d/UVCbIbJLvW7JS8iTJD4mJWDkBDZBIONP9JV"
    "ei7IYOk7Uz2x5GXCZDX6nYZzI6bEuAteZ+qIEvNa8b6rZ1Z89ynKA/BwzLa3TooDG7XD+A"
    "oCZqIVrLhtJG2qj0DijbO8DnSwzrS+05UfkPUu0um8r2rQD/bDZPTj42j07OL85OP348uz"
    "jyzQHxqjS7wGXvMzMNhOQ8QcIPAxOEBRJ4clLkAEkt0vmlCdfbSIks9Z7kb6C+eo+zchfh"
    "ephSmuOqbI7zeJXbWhQj3ECO2B/+5lByKewzI6+aGyKSiq44yaw0xWwGqbQd7N524HzY0n"
    "qwDtbQBFg1+wGPNUkwHnhxKGssByz0JeP2+w0y3zujzNnJ5nEgFLUZAp4uCaaGTXUb89C5"
    "sA7BQmObOMA1UPDdbwsR5rFhgQO2O24aS7BAprtL/i6+B7+b247xGE8mOrSI4vU6mQDNAh"
    "qmSsOcqmu0Ow07t6Vo08ECseVs49NC+lwatlhQG4DeXQ+BZfiPSMtNBJ7h4v2TidAYH0D6"
    "CLqO1PdsOLjEvMji93DfCLDad/z5DVNFJn0Im34wJq3HU9s06XOBpanRlvS9GB17L92gNE"
    "muBVlNN9Va297UvWA7VpvQWMtnuomR7s5+s+VMuDs23rhfqsK/tjgPkhMTR+lqw4ASUxE7"
    "k2MStmnjO05bG3x3PMCdddDbH8g5mwuJpVod0QF1Y8kT9dMJmd5AFfjsJpvgRbS1GerlJZ"
    "Lf4CiFNzhCYXjTHeTcQOI0LcD+jvGnYb8/fOiOblvAvxzj2/vL286od8nLAz+i8nIWN6/y"
    "j01Dc4MgxWCG5/hMn5Z4O0woU83nSLn9yOR8Oj8vqWaQK3w1RijDWNP3qAqEscrUe8lz0X"
    "7uUQm2L/wAi4xhrHF70HpLp5dOY+t2ziqo2GVYOcszsbnReAID2ypOL9m85oQEZrStTSZe"
    "mOVkAlxKxw40Y17QOosqmUzcHwpPrUcbHvjygWMaY08hsKCV3bnQTci7BWsQ6krGrrxp7I"
    "p0lqjbQpTFWSL0BeZU+0W0cp8yIt95011ObCNkEtb07d/goiL3KdMEo8jAWr8BHF6jJb5r"
    "8BVNilXaDg7E+gvk1XAmgGSZNZJ6IIvc6pA4e6UQWPYjq6cl4GABXynywGnwTixk8iBZWo"
    "6+LzQ6K1BZg0meAfNWsky7uxsL5V2ndyntVkvaXbEzr7QbppROotWxsgikW6nTSJ1G6jRl"
    "6zTOkpYT2RCRhDRdn1kJDVLaTpO2Q4NK6jJ/N10mdLCGSJ2JnryRotHEDvxYr9Q8zAygai"
    "pYMrM3Meh/Y35I/yIMDr6iBQHwyXHNxI5Xp67R36pASdmko5JzckvNYkPNgo6Y/NEzARq5"
    "NEbjkfwDYeJ+PYlwirP47WfYbNgn56SZwSfnpJnok8OqwgATaNK5QymQ3CROKb3+wtiqiE"
    "BRSrjkwbuiqF3WsOOjrFn5U9PyxxKH7ZeaL88slemtqjNZyZjKN/A22pmG5B+nJ1COgkft"
    "JetFoXP91qtEQ4wAmhv/1fzctYDlsgW0EaLaDB2AGi88WCBzyoLSjCew1FQy46FrMzquZu"
    "QQHL1np6/E9aTSey9ZeUqLVamZ/rST+JSUTLsyE1+ZYir/qPJIqT6B1LAyaFjexKR8F6ym"
    "ugETpowwWQTpJ0a3h1inYHs1vL/sd8HNqNvp3fZcZ3tf5uSVrGgV6zDqtvtJUAsCTLJALQ"
    "ovkVALoZZql1S7pNol1S6pdkXVrtvIMTEC7Sva5DBNCXNfNHx4+Pbyt8qTRN58F2m/1lbp"
    "uSQX1wotrjJlv5RV9lBWkSn7a5Ky3xnMbR2ZJFn0c6qziH2Qtcx89N0MQZ0ZvBmRc8ac00"
    "0LMIv5CwLLmaYjFumgI2hyQcGJjWAvITrZbvMO11vZg9LnqpsGbRWsoUPBcitySaPyJIGy"
    "c9J9pe+Xx1zstZfW4gzWYgu9IFMjAgNmtlRGQfoqA07VoE/DFmB/x/ihPRr0Bp9bwL0Y48"
    "6od9frtPst4F1FJ6cs7LnIwJ2LROZcRHkzXx21knXsB0iqzI2Cw38rJwGuJvoYzunKb4iw"
    "hrrvnui62YKzVut8Ti6HKWUIXpW5LE0aUgevirpY8f2CL1zRumVpyxuJamOw0WEG5dHR3r"
    "Ipjzd+nvOWq+6RGR2GM0NXgUFlSlNTWX5yrPKkUDp9BIt46qEF5wuqBWZO1b61G8lU5tVV"
    "G30u50pDGaaqRg5Kdtva5KB0PjDF+bLycCZGuBFz9kcKk5lA5ZZfMQFZZgKtutBXgiD3iw"
    "11jbxeI/oG02RRLtwsizD3zaFQ5pwkh0t+WHYKGPHBAQRsUgAWMjVk/QssbJO+mRtwPJk4"
    "hIqJ2EGkzD9Sha/WZJLgm1/+bdhxO/dYI1YLPGqEDU520g67thzJj+fDPwRPJjtrh9Wzav"
    "4r3EA1tSd29g6Yazpdj5w0+ofgK3rljcdYY8fovECdi51zpGqQncLDKPzGqmksFvSp3e5Z"
    "wwUdNogA3bD4c7lxB4dUMrWx+p6Cs3Dem93YKrAZ4kBZYM9DhiKwul2EIgRYlHPdDlPWzw"
    "12f5dpkR0LElugtmTckvGpq7wF0Oj+1un2+93BXQv4l2P8eTi8agH2d4xvhsNRC7C/dF4e"
    "/DwYPgxawL0osj1T/gkTfKJX5gJWpbj/B4kKOv/vj/ZShu+/A5iKXjQnZ0ohvKPkEvkMyL"
    "9oKjIUVxjKt+7HSAsdIVQxuN/mvCxoq1pBLsRIJReKcoEL4oqYBSmzT5hMzjoZZh0eRR0H"
    "OXGQ++1rNLhLO6fMCUTPgeaKQMIZh9PT4RVPhc81GQip5ZyQJf7TUNFUrBEl+G14BIWUoI"
    "qBG9Zjzk8z6DHnp4l6DKuKhORjBpfACTwlKH9FUj+Ej5tZXPloq2RdsSlw51M1qDzDRa4p"
    "I0Qlp4pM6iK3nCqO5TSnqhgllYhnyYPADdMKM0zngjtCJ7HOgLVJchucViQS4YyjGT4jU7"
    "EWCAl2O9YM6DCpRDwD4tXyhaou1tJvc2NY99dvs41MbTprCHb43ZrDtE19uGpTaioHmbjh"
    "DRM3vCDTypmuOkBS5d3Bgnpb8+wsg95GWyXqbbwuYn5fCDS2lITgC5GqVgd0j7NmVE5LqB"
    "zLp2xg5ocTRzjZEzRAsnsH3T13At3IHXDTxezH/wFzvc4D"
)
