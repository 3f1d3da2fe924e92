"""The only code that reads and writes the database."""
