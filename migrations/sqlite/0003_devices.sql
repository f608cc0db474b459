-- Devices (spec section 9): a user has up to 16 devices, each with its own
-- prekeys and its own inbox. Existing accounts become users with one
-- device, id 0 (a legacy device), which the first device list they publish
-- renames to the device it names.
CREATE TABLE devices (
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    device_id    INTEGER NOT NULL,
    -- In the user's current signed list (a device claims its id first,
    -- then is listed; legacy devices are listed).
    listed       BOOLEAN NOT NULL DEFAULT TRUE,
    inbox_seq    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER,
    -- When a list left it out: a removed device keeps its row, so its id
    -- is never claimed again and its tokens are refused.
    removed_at   INTEGER,
    PRIMARY KEY (user_id, device_id)
);
INSERT INTO devices (user_id, device_id, inbox_seq, created_at)
    SELECT user_id, 0, inbox_seq, created_at FROM users;

-- The latest signed device list of each user, as published.
CREATE TABLE device_lists (
    user_id    TEXT PRIMARY KEY REFERENCES users (user_id),
    version    INTEGER NOT NULL,
    list       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE signed_prekeys_new (
    user_id   TEXT NOT NULL REFERENCES users (user_id),
    device_id INTEGER NOT NULL,
    spk_id    INTEGER NOT NULL,
    spk_pub   BLOB NOT NULL,
    spk_sig   BLOB NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
INSERT INTO signed_prekeys_new SELECT user_id, 0, spk_id, spk_pub, spk_sig FROM signed_prekeys;
DROP TABLE signed_prekeys;
ALTER TABLE signed_prekeys_new RENAME TO signed_prekeys;

CREATE TABLE one_time_prekeys_new (
    user_id   TEXT NOT NULL REFERENCES users (user_id),
    device_id INTEGER NOT NULL,
    id        INTEGER NOT NULL,
    public    BLOB NOT NULL,
    PRIMARY KEY (user_id, device_id, id)
);
INSERT INTO one_time_prekeys_new SELECT user_id, 0, id, public FROM one_time_prekeys;
DROP TABLE one_time_prekeys;
ALTER TABLE one_time_prekeys_new RENAME TO one_time_prekeys;

-- A copy is now for one device of its recipient; the sending device is
-- noted too (a receiver uses it to choose a session, never trusting it).
CREATE TABLE messages_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sender           TEXT NOT NULL REFERENCES users (user_id),
    sender_device    INTEGER NOT NULL,
    recipient        TEXT NOT NULL REFERENCES users (user_id),
    recipient_device INTEGER NOT NULL,
    client_id        TEXT NOT NULL,
    group_id         TEXT,
    envelope         TEXT,
    self_copy        TEXT,
    sent_at          INTEGER NOT NULL,
    expires_at       INTEGER,
    view_once        BOOLEAN NOT NULL,
    media_path       TEXT,
    media_removed_at INTEGER,
    UNIQUE (sender, client_id, recipient, recipient_device)
);
INSERT INTO messages_new (id, sender, sender_device, recipient, recipient_device, client_id, group_id,
                          envelope, self_copy, sent_at, expires_at, view_once, media_path, media_removed_at)
    SELECT id, sender, 0, recipient, 0, client_id, group_id, envelope, self_copy, sent_at, expires_at,
           view_once, media_path, media_removed_at FROM messages;

-- Each device's inbox: the envelopes addressed to it and the self-copies
-- of what its user's other devices sent, in the device's `inbox_seq` order.
CREATE TABLE inbox_new (
    user_id    TEXT NOT NULL REFERENCES users (user_id),
    device_id  INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages_new (id),
    outgoing   BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, device_id, seq)
);
INSERT INTO inbox_new SELECT user_id, 0, seq, message_id, outgoing FROM inbox;
DROP TABLE inbox;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
ALTER TABLE inbox_new RENAME TO inbox;
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX messages_media ON messages (media_path) WHERE media_path IS NOT NULL;
CREATE INDEX inbox_message ON inbox (message_id);
