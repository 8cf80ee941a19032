"""Candidate personal data: where it lives, masking, retention, export and erasure."""
