"""One module per group of related commands; :data:`virtkit.cli.app.COMMANDS` maps names here."""
