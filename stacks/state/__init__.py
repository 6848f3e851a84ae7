"""An environment's state: where its files live, its backends (a folder, PostgreSQL, S3), the lock, the state file read
without the engine, what it records, the passphrase and the spec's secrets."""
