-- Issue "account-wide sweeps": one sweeper per DashScope account, whatever the number of Poller
-- instances, held under a lease next to the shared query bucket; the instances and FcgiApp read
-- from here whether the sweep is fresh. Idempotent like V002.
CREATE TABLE IF NOT EXISTS outpainting_sweeper (
    quotaKey          VARCHAR(64)  NOT NULL PRIMARY KEY COMMENT 'hash of the DashScope API key, as in outpainting_query_quota',
    holder            VARCHAR(128) NOT NULL DEFAULT '' COMMENT 'the Poller instance holding the lease (host:pid:random)',
    leaseUntil        DATETIME(6)  NOT NULL COMMENT 'the lease ends here unless renewed; another instance may take it after',
    acquiredAt        DATETIME(6)  NULL COMMENT 'when the current holder took the lease',
    handovers         BIGINT       NOT NULL DEFAULT 0 COMMENT 'times the lease changed hands',
    lastSweepAt       DATETIME(6)  NULL COMMENT 'the last successful sweep of the account''s RUNNING tasks',
    sweepIntervalMs   INT          NOT NULL DEFAULT 0 COMMENT 'the interval the holder sweeps at (from its budget)',
    lastPendingPassMs INT          NOT NULL DEFAULT 0 COMMENT 'how long the last pass over the PENDING pages took'
) COMMENT 'the account''s one sweeper: lease and freshness';
-- The shared bucket learns the rate at which the account answered 429 (the quota is shared with
-- other applications of the same Aliyun account): the rate grows back quickly below it, slowly above.
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE outpainting_query_quota ADD COLUMN ceilingRate DOUBLE NULL COMMENT ''refill rate at which the last 429 came, relaxed upwards over time''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outpainting_query_quota' AND COLUMN_NAME = 'ceilingRate');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE outpainting_query_quota ADD COLUMN ceilingQuietSeconds DOUBLE NOT NULL DEFAULT 0 COMMENT ''seconds since the last 429; the ceiling is forgotten after two quiet minutes''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outpainting_query_quota' AND COLUMN_NAME = 'ceilingQuietSeconds');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
-- The sweeper asks for the oldest PENDING tasks (queue order) and for those a PENDING pass missed.
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD INDEX idx_status_created (taskStatus, createTime)', 'DO 0')
             FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND INDEX_NAME = 'idx_status_created');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
