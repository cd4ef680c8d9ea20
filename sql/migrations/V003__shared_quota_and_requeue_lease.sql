-- Issue "poller engine": one token bucket per DashScope account (API key), shared by every
-- Poller instance and FcgiApp's live checks, and a lease column so that several reconcilers do not
-- re-enqueue the same task at once. Idempotent like V002.
CREATE TABLE IF NOT EXISTS outpainting_query_quota (
    quotaKey       VARCHAR(64)  NOT NULL PRIMARY KEY COMMENT 'hash of the DashScope API key (never the key itself)',
    accountQPS     DOUBLE       NOT NULL COMMENT 'the account''s task-query quota; set from DASHSCOPE_QUERY_QPS on first use, then authoritative (change it here, live)',
    tokens         DOUBLE       NOT NULL COMMENT 'queries that may be sent now',
    ratePerSecond  DOUBLE       NOT NULL COMMENT 'current refill rate: halved on a 429, raised back over time',
    configuredRate DOUBLE       NOT NULL COMMENT 'refill rate derived from accountQPS',
    burst          DOUBLE       NOT NULL COMMENT 'most tokens saved up, derived from accountQPS',
    updatedAt      DATETIME(6)  NOT NULL,
    blockedUntil   DATETIME(6)  NOT NULL COMMENT 'no tokens before this (set after a 429)',
    throttledCount BIGINT       NOT NULL DEFAULT 0 COMMENT '429 answers reported by all instances'
) COMMENT 'shared DashScope task-query quota';
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN requeueTime DATETIME(3) NULL COMMENT ''when a reconciler last re-enqueued this task (lease)''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'requeueTime');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
