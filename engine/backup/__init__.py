"""Backup and restore (备份与恢复): the database, the uploads, the archive, the catalog images and the secret key
of one installation together, with a manifest of every file's SHA-256 (`relief backup|restore`)."""
