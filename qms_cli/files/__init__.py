"""Files of a store, at the bottom of the package: reading them without following links or
reading more than a limit (safefs), YAML in and out (yamlio, with the fast bulk reader
fastyaml), and where a form or ledger may be written (output). Imports only errors, text
and i18n, so config, the store and the checks may all use it."""
