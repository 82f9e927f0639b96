"""``lit-gen bench curves|inspect|agreement``: tools that read finished runs and leaderboards.

Each module has ``add_arguments(parser)`` and ``main(args) -> exit code``; its docstring is the
subcommand's ``--help`` text. Heavy imports wait inside ``main``, so ``lit-gen bench --help``
stays fast.
"""
