"""Deploy Dispute: business disputes decided by arbiters of other countries."""

NAME = "dispute"


def apply(ctx):
    ctx.deploy("Dispute", ctx.address("ValidatorSet"), ctx.address("SpamRegistry"))
