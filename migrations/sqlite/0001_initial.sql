-- Users: a user is its Ed25519 signing key (the id) and X25519 key, bound
-- by a signature the server checks and clients re-check.
CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    sign_pub    BLOB NOT NULL,
    dh_pub      BLOB NOT NULL,
    binding_sig BLOB NOT NULL,
    handle      TEXT UNIQUE,
    inbox_seq   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE auth_challenges (
    challenge  BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE signed_prekeys (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id),
    spk_id  INTEGER NOT NULL,
    spk_pub BLOB NOT NULL,
    spk_sig BLOB NOT NULL
);

CREATE TABLE one_time_prekeys (
    user_id TEXT NOT NULL REFERENCES users (user_id),
    id      INTEGER NOT NULL,
    public  BLOB NOT NULL,
    PRIMARY KEY (user_id, id)
);

-- One row per sealed copy. `envelope` is the recipient's, `self_copy` the
-- sender's; each side's column is cleared when that side deletes it.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sender     TEXT NOT NULL REFERENCES users (user_id),
    recipient  TEXT NOT NULL REFERENCES users (user_id),
    client_id  TEXT NOT NULL,
    group_id   TEXT,
    envelope   TEXT,
    self_copy  TEXT,
    sent_at    INTEGER NOT NULL,
    expires_at INTEGER,
    view_once  BOOLEAN NOT NULL,
    UNIQUE (sender, client_id, recipient)
);
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;

-- Each user's inbox: received envelopes and own sent copies, in the order
-- given by the user's `inbox_seq`, allocated under the user's row lock.
CREATE TABLE inbox (
    user_id    TEXT NOT NULL REFERENCES users (user_id),
    seq        INTEGER NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id),
    outgoing   BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX inbox_message ON inbox (message_id);

CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (group_id),
    user_id  TEXT NOT NULL REFERENCES users (user_id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
