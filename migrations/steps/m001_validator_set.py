"""Deploy ValidatorSet, the consortium's roles hub; the deployer becomes governance."""

NAME = "validator set"


def apply(ctx):
    ctx.deploy("ValidatorSet", ctx.params.get("governance", ctx.deployer.address))
