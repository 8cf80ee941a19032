"""Queue machinery on top of Procrastinate: transactional defer, schema, worker processes."""
