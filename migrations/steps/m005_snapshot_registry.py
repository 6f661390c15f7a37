"""Deploy SnapshotRegistry: per-country epoch Merkle roots."""

NAME = "snapshot registry"


def apply(ctx):
    ctx.deploy("SnapshotRegistry", ctx.address("ValidatorSet"), ctx.address("ModelRegistry"))
