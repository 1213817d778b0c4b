"""The views: what a person reads. Text (markdown and the sentences of verdicts and findings),
figures (one definition each, drawn as PNG, SVG and in the page) and the HTML report.

Views read results; they never run an experiment and never write a file themselves (the CLI
hands their output to :mod:`layerspeed.store`)."""
