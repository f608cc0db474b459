-- Devices (spec section 9): a user has up to 16 devices, each with its own
-- prekeys and its own inbox. Existing accounts become users with one
-- device, id 0 (a legacy device), which the first device list they publish
-- renames to the device it names.
CREATE TABLE devices (
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    device_id    BIGINT NOT NULL,
    -- In the user's current signed list (a device claims its id first,
    -- then is listed; legacy devices are listed).
    listed       BOOLEAN NOT NULL DEFAULT TRUE,
    inbox_seq    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT,
    -- When a list left it out: a removed device keeps its row, so its id
    -- is never claimed again and its tokens are refused.
    removed_at   BIGINT,
    PRIMARY KEY (user_id, device_id)
);
INSERT INTO devices (user_id, device_id, inbox_seq, created_at)
    SELECT user_id, 0, inbox_seq, created_at FROM users;

-- The latest signed device list of each user, as published.
CREATE TABLE device_lists (
    user_id    TEXT PRIMARY KEY REFERENCES users (user_id),
    version    BIGINT NOT NULL,
    list       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE signed_prekeys ADD COLUMN device_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signed_prekeys ALTER COLUMN device_id DROP DEFAULT;
ALTER TABLE signed_prekeys DROP CONSTRAINT signed_prekeys_pkey;
ALTER TABLE signed_prekeys ADD PRIMARY KEY (user_id, device_id);

ALTER TABLE one_time_prekeys ADD COLUMN device_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE one_time_prekeys ALTER COLUMN device_id DROP DEFAULT;
ALTER TABLE one_time_prekeys DROP CONSTRAINT one_time_prekeys_pkey;
ALTER TABLE one_time_prekeys ADD PRIMARY KEY (user_id, device_id, id);

-- A copy is now for one device of its recipient; the sending device is
-- noted too (a receiver uses it to choose a session, never trusting it).
ALTER TABLE messages ADD COLUMN sender_device BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN recipient_device BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ALTER COLUMN sender_device DROP DEFAULT;
ALTER TABLE messages ALTER COLUMN recipient_device DROP DEFAULT;
ALTER TABLE messages DROP CONSTRAINT messages_sender_client_id_recipient_key;
ALTER TABLE messages ADD CONSTRAINT messages_copy_key UNIQUE (sender, client_id, recipient, recipient_device);

-- Each device's inbox: the envelopes addressed to it and the self-copies
-- of what its user's other devices sent, in the device's `inbox_seq` order.
ALTER TABLE inbox ADD COLUMN device_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inbox ALTER COLUMN device_id DROP DEFAULT;
ALTER TABLE inbox DROP CONSTRAINT inbox_pkey;
ALTER TABLE inbox ADD PRIMARY KEY (user_id, device_id, seq);
