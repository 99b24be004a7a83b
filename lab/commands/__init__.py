"""One module per `collapse-lab` subcommand: HELP, add_arguments(parser), handle(args)."""
