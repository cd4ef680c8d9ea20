-- DEV ONLY: demo users, spaces and pictures for `make run` (ids 1-99; tests use their own ids).
-- Log in as a demo user with the cookie SESSION=dev-user-<id> (the DevServer's login stand-in).
-- Picture URLs point at the DevServer; their query string sets the simulated task's duration/outcome.
INSERT IGNORE INTO user (id, userAccount, userName, userRole) VALUES
    (1, 'alice', 'Alice (uploader)', 'user'),
    (2, 'bob', 'Bob (stranger)', 'user'),
    (3, 'admin', 'Ada (site admin)', 'admin'),
    (4, 'carol', 'Carol (team editor)', 'user'),
    (5, 'dave', 'Dave (team viewer)', 'user');

INSERT IGNORE INTO space (id, spaceName, spaceType, userId) VALUES
    (1, 'Alice private', 0, 1),
    (2, 'Design team', 1, 1);

INSERT IGNORE INTO space_user (id, spaceId, userId, spaceRole) VALUES
    (1, 2, 1, 'admin'),
    (2, 2, 4, 'editor'),
    (3, 2, 5, 'viewer');

INSERT IGNORE INTO picture (id, url, name, userId, spaceId, picWidth, picHeight) VALUES
    (1, 'http://127.0.0.1:8089/images/demo-1.png?sim_duration_ms=4000', 'Sunset (public)', 1, NULL, 1024, 1024),
    (2, 'http://127.0.0.1:8089/images/demo-2.png?sim_duration_ms=6000', 'Harbour (Alice private)', 1, 1, 1024, 768),
    (3, 'http://127.0.0.1:8089/images/demo-3.png?sim_duration_ms=5000', 'Poster (team)', 1, 2, 768, 1024),
    (4, 'http://127.0.0.1:8089/images/demo-4.png?sim_duration_ms=3000&sim_outcome=FAILED', 'Broken scan (fails)', 1, NULL, 1024, 1024);
