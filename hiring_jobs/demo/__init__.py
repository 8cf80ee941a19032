"""Demo data: realistic resumes and deliberately broken uploads for the demo and the tests."""
