"""params.yaml: the typed config object of the pipeline.

`rnnops.params.load.load_params` reads and validates the file; the sections live in `schema`
(data, train, evaluate), `architectures` (the `models:` blocks) and `search_space` (`tune:`).
Importing this package is cheap: pydantic and PyYAML only.
"""
