"""Deploy ModelRegistry: models become usable after approvals from other countries."""

NAME = "model registry"
DEFAULT_REQUIRED_APPROVALS = 2


def apply(ctx):
    approvals = int(ctx.params.get("required_approvals", DEFAULT_REQUIRED_APPROVALS))
    ctx.deploy("ModelRegistry", ctx.address("ValidatorSet"), approvals)
