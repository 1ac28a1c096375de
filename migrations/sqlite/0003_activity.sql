-- docs/PROTOCOL.md §9: conversations by recent activity, read markers, call history.

-- A conversation's activity: a number that grows with every conversation created and
-- every message stored, so the list orders by it (ties impossible).
ALTER TABLE conversations ADD COLUMN activity INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET activity =
    COALESCE((SELECT MAX(seq) FROM messages WHERE conversation_id = conversations.id), 0);
CREATE INDEX conversations_by_activity ON conversations (activity);
CREATE INDEX members_by_user ON members (user_id);

-- Each member's read marker: the newest message seq they have read.
CREATE TABLE reads (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    user_id         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- One row per party of every call that reached a final state, in the order they did.
CREATE TABLE call_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    peer        TEXT NOT NULL,
    direction   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at    INTEGER NOT NULL,
    UNIQUE (user_id, call_id)
);
CREATE INDEX call_history_by_user ON call_history (user_id, seq);
