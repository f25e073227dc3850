"""The record model: record types declared as data (fields, workflow, numbering,
deadlines), the record envelope, and pure functions over them. No I/O here; anything in
the package may import it."""
