"""The tools: the ``skylet`` command line, the console client, the bench runner."""
