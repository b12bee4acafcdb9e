-- Keys removed while sessions opened with them were live, and not ending them at once (an
-- ordinary removal): those sessions end at the user's next sign-in. Written by the removal, in
-- its transaction; read (a primary-key lookup) and emptied by the next sign-in.
CREATE TABLE session_ends_pending (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL,
    PRIMARY KEY (user_id, credential_id)
);
