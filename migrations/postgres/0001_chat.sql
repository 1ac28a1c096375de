-- Chat history for cluster mode: conversations, their members, messages.
CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    title       TEXT,
    open        BOOLEAN NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE members (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    user_id         TEXT NOT NULL,
    position        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE TABLE messages (
    seq             BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    sender          TEXT NOT NULL,
    body            TEXT NOT NULL,
    client_msg_id   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, sender, client_msg_id)
);

CREATE INDEX messages_by_conversation ON messages (conversation_id, seq);
