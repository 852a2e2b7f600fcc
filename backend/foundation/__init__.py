"""The foundation every other package may import: database URLs and their redaction, the
throwaway-Postgres provider, socket deadlines and the connection budget.

It imports nothing of ours.
"""
