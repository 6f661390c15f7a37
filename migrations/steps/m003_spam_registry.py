"""Deploy SpamRegistry, the finalized record per number key."""

NAME = "spam registry"


def apply(ctx):
    ctx.deploy("SpamRegistry", ctx.address("ValidatorSet"))
