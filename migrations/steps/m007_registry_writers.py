"""Let Consensus and Dispute (and only they) write SpamRegistry."""

NAME = "registry writers"


def apply(ctx):
    role = ctx.ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    for name in ("Consensus", "Dispute"):
        address = ctx.address(name)
        if not ctx.ledger.call("ValidatorSet", "hasRole", role, address):
            ctx.transact(f"grant-writer:{name}", "ValidatorSet", "grantRole", role, address)
