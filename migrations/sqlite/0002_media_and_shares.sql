-- Media: encrypted blobs in object storage, accounted here. A user's
-- `media_bytes` is changed only by single conditional statements inside
-- transactions, so concurrent uploads can never pass the quota.
ALTER TABLE users ADD COLUMN media_bytes INTEGER NOT NULL DEFAULT 0;

-- One row per blob at `path` (media/<owner>/<name>). While an upload runs,
-- `complete` is false and `size` is the bytes reserved; afterwards it is the
-- bytes stored. `removed_at` is set when the blob is deleted (by its owner,
-- a view-once view or expiry), `purged` once storage has deleted it; the row
-- stays as a tombstone so a later download answers 410 Gone.
CREATE TABLE media (
    path       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL REFERENCES users (user_id),
    size       INTEGER NOT NULL,
    complete   BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL,
    removed_at INTEGER,
    purged     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX media_unpurged ON media (removed_at) WHERE removed_at IS NOT NULL AND NOT purged;
CREATE INDEX media_uploading ON media (created_at) WHERE NOT complete;

-- The blob a message refers to, and when its view-once view removed it.
ALTER TABLE messages ADD COLUMN media_path TEXT;
ALTER TABLE messages ADD COLUMN media_removed_at INTEGER;
CREATE INDEX messages_media ON messages (media_path) WHERE media_path IS NOT NULL;

-- One-view shares: the ciphertext only (the key is in the link fragment).
CREATE TABLE shares (
    code       TEXT PRIMARY KEY,
    blob       BLOB NOT NULL,
    views_left INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX shares_expiry ON shares (expires_at);
