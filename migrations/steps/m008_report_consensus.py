"""Deploy ReportConsensus (the signed-report path of issue #12) and let it write SpamRegistry.

Self-contained: the contract reads Consensus' parameters, so nothing else is rewired.
"""

NAME = "report consensus"


def apply(ctx):
    address = ctx.deploy("ReportConsensus", ctx.address("ValidatorSet"),
                         ctx.address("ModelRegistry"), ctx.address("SpamRegistry"),
                         ctx.address("Consensus"))
    role = ctx.ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    if not ctx.ledger.call("ValidatorSet", "hasRole", role, address):
        ctx.transact("grant-writer:ReportConsensus", "ValidatorSet", "grantRole", role, address)
