from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "streams" ADD "starts_soon_reminded_at" TIMESTAMP;
        ALTER TABLE "streams" ADD "starting_reminded_at" TIMESTAMP;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "streams" DROP COLUMN "starts_soon_reminded_at";
        ALTER TABLE "streams" DROP COLUMN "starting_reminded_at";"""


MODELS_STATE = (
    "eJztm2tv4jgUhv8KyqdZabcqKWWqarUShLRlh4aKy3Q0yyoyiQtRE4dJnKGo0/++tsnVSS"
    "hkCQXEFwjHPo7zvI5zYh9eBcvWoeme9bEDgSVcV14FBCxIDriS3ysCmM0iOzVgMDZZVZfV"
    "YTYwJj+Ahon5CZguJCYduppjzLBhI2JFnmlSo62RigaaRCYPGT88qGJ7AvEUOqTgn3+J2U"
    "A6fIFu8HP2rD4Z0NQTfTV0em5mV/FixmzDYbt1w2rS041VzTY9C0W1Zws8tVFY3fMM/Yz6"
    "0LIJRNABGOqxy6C99C84MC17TAzY8WDYVT0y6PAJeCaFIfz55CGNMqiwM9GP2l9+12LVVF"
    "XpDtS+PFBVYQN2mo0odwNhCur1bdluBIRZBXoC6a7R+3RR/40hsF08cVghwyW8MUeAwdKV"
    "QY8oYwOTy0+BlqbAyQYdOnCsSVeLUA4MEeZoiAUAA0QlQBUs8KKaEE3wlPwUz89XUP7a6D"
    "HQpBYjbZN7YnmvKH6RuCyjxCPC8Z6lOA/gC87mzLntjrbwAQN4IH8b0JYt1/1hxol+um98"
    "Y7CthV/S6Sq3QfWYAlKn2+TA46lnjREwTNVzzI2GOO9YCL4/XezrSK9drTXUa1crxjotTD"
    "J3McCemw1bRp7FgLdJxwDSYAp85F3WcE/P4X3pTm4NO3Jrw2EfOV5XwsMReujJD41eW7m9"
    "roSHI9Rpf5WvK/RzhHqy1FUUWRqwSvFfIyQrLdoe+xohCpq4EENwNEJSQ5HkDjtreCgUGA"
    "DV+hryV+u54tOipPQzx/5p6NDZ5E6L++xwhjNtDZhlTXNJzhfiGpwvxFzOtCibs7qM0NSs"
    "OOl94knv45vgquI68xuplT/CxdTsFsIDrgtxUfJx5xP4tcD7g/UZLjYhnvQ6wni1ZNbqFL"
    "jTYsBD1+1Qf/9dbGfM67U1kNdrucRpETermGAxBtrzpvNJ0u3oQJczgwfQZrZpaDmzyfuB"
    "akYzOwxfHobNTlvaNF5depGwlH2PUL99q7DglX0XiSHX0SdfnZQ2JuGEtIVKF6OKCsO3sU"
    "NV+oOG0mr0Nn+P8P2IEv4RfUdoDSUqjn9A3iC6j+QFovu4Bzo5kJwNQQ2rcwLEnqe1aqOc"
    "RY0sV04icgllSVQ/L2vimtAu/CFWa59rVxf12hWpwroZWj6vkKCtDDjCVD1yCmwgz/ZcVf"
    "cIiczlo1zQK1rYHe/ahXh+KMjpyHR0ckYVInrNGY/ipm2bEKD8kZ3y51CPSQNlsQ4tu124"
    "a3a7ncTCXbPNr8wN75syeU6z+YVUMjDMVkCbAlwQPu+6Q+5BfHSw2EnEzrYw3MIDP8P/JM"
    "D6ArjaFOoeAacCnGbfIriwYcGcFy7Ol+Ou+85nwcHhLS6s2jRo38skZLp/SAjRagxkWiIm"
    "dg0C6yd+RTNspPLYHtxV6M/K964i81tpYb3Bd4H2CXjYVpE9V4EeZxKYAxO/OO7gYjonPE"
    "8q77PKkCAsonHc76TwPiu83KZSSdSBJkVv53QDJ833XHMHu6prE4kcaBkFb/IVzZz033v9"
    "6evd/xU/o42T8vusvEbecIpFbUnPLahcJMGhzPV6cn16F5kL/7wHorqPaKXo3kwvKHrScz"
    "ei73YL8jBVz7jX/d5HqttzokTmNlx+4mncZ5vpp/s7g7+TbUoTep+eM5NNGas03BvbgcYE"
    "fYGL1OYOR9TPXx668BA379+CsRNYo8nIAfMwBToxpMjFk0uGy8UjqdGXGi1ZYIzp/uMcOL"
    "qagE1LbNHmLGHddJElWrwFIDBhdOhl0E7HsWekkwdy5CeTe6TGKZX8yFPJ2XeKc34CQ1D/"
    "+DIX1kojr65II6+m08gd24QZibV/97tKzsJ84MDHIIaGK78qpuGWtvEXG81jzzDJO497Rs"
    "/3EQOaAkqEH6nUcj6LnBv5tAE+tfyw3glO4WHxl4JUNJP/6OVT6DLu1qbvePOlB828HfnU"
    "n7QObATkhTlvZcYmDegY2jQrOvFLVsYnIKqzNwFKbm5HZnySkcbhD+n9fWhuJYUjPx75SW"
    "LOzKyZ/JAk5nKE6cLi5eU6//m5vMz/yw8tSz4K6U21AWG/+hHSLSXqozlcEGVEGflxX8xl"
    "95Hfx6xIbC3G2+Bpv/2H2dt/ezi62g=="
)
