"""Domain services: plain functions that do the real work (PDF text, skills, fit, files, mail)."""
