-- Counting the conversations a user created (the per-user cap).
CREATE INDEX conversations_by_creator ON conversations (created_by);
