-- Users: a user is its Ed25519 signing key (the id) and X25519 key, bound
-- by a signature the server checks and clients re-check.
CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    sign_pub    BYTEA NOT NULL,
    dh_pub      BYTEA NOT NULL,
    binding_sig BYTEA NOT NULL,
    handle      TEXT UNIQUE,
    inbox_seq   BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

CREATE TABLE auth_challenges (
    challenge  BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE signed_prekeys (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id),
    spk_id  BIGINT NOT NULL,
    spk_pub BYTEA NOT NULL,
    spk_sig BYTEA NOT NULL
);

CREATE TABLE one_time_prekeys (
    user_id TEXT NOT NULL REFERENCES users (user_id),
    id      BIGINT NOT NULL,
    public  BYTEA NOT NULL,
    PRIMARY KEY (user_id, id)
);

-- One row per sealed copy. `envelope` is the recipient's, `self_copy` the
-- sender's; each side's column is cleared when that side deletes it.
CREATE TABLE messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender     TEXT NOT NULL REFERENCES users (user_id),
    recipient  TEXT NOT NULL REFERENCES users (user_id),
    client_id  TEXT NOT NULL,
    group_id   TEXT,
    envelope   TEXT,
    self_copy  TEXT,
    sent_at    BIGINT NOT NULL,
    expires_at BIGINT,
    view_once  BOOLEAN NOT NULL,
    UNIQUE (sender, client_id, recipient)
);
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;

-- Each user's inbox: received envelopes and own sent copies, in the order
-- given by the user's `inbox_seq`, allocated under the user's row lock.
CREATE TABLE inbox (
    user_id    TEXT NOT NULL REFERENCES users (user_id),
    seq        BIGINT NOT NULL,
    message_id BIGINT NOT NULL REFERENCES messages (id),
    outgoing   BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX inbox_message ON inbox (message_id);

CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (group_id),
    user_id  TEXT NOT NULL REFERENCES users (user_id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
