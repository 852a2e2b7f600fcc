"""Data access for the HTTP routes: keyword-only functions over a Session, one module per area."""
