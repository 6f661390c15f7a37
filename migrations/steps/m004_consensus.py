"""Deploy Consensus: rounds, EIP-712 votes and the weighted tally."""

NAME = "consensus"


def apply(ctx):
    ctx.deploy("Consensus", ctx.address("ValidatorSet"), ctx.address("ModelRegistry"),
               ctx.address("SpamRegistry"))
