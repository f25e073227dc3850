"""qms: quality records as code.

The public Python API (the CLI is one client of it):

    from qms_cli import engine
    from qms_cli.store import Store
    store = Store.open("path/to/store")
    change = engine.new(store, "complaint", ["customer.name=上汽大众", ...])
    engine.move(store, "complaint", change.record.id, "acknowledged", ["contact.at=..."])
    from qms_cli.validation import validate
    findings = validate(store)

Kept import-free so that `qms --help` does not pay for modules it does not use."""

__version__ = "0.1.0"
