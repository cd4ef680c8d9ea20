-- Columns the Swift service needs beside the original ones. Every step checks
-- information_schema first, so the file can run again (MySQL 8 has no ADD COLUMN IF NOT EXISTS).
-- Original columns are never dropped or renamed.
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN errorCode VARCHAR(128) NULL COMMENT ''DashScope error code of a FAILED task''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'errorCode');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN requestId VARCHAR(64) NULL COMMENT ''request id of the last DashScope answer''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'requestId');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN requestParameters TEXT NULL COMMENT ''out-painting parameters as sent (host camelCase JSON)''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'requestParameters');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN submitTime DATETIME(3) NULL COMMENT ''DashScope submit_time (UTC+8, as reported)''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'submitTime');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN scheduledTime DATETIME(3) NULL COMMENT ''DashScope scheduled_time (UTC+8, as reported)''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'scheduledTime');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN endTime DATETIME(3) NULL COMMENT ''DashScope end_time (UTC+8, as reported)''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'endTime');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN lastCheckTime DATETIME(3) NULL COMMENT ''when DashScope was last asked about this task''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'lastCheckTime');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN nextCheckTime DATETIME(3) NULL COMMENT ''when the poller plans to ask next''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'nextCheckTime');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN pollerPartition INT NULL COMMENT ''Kafka partition whose consumer follows this task; NULL = not claimed yet''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'pollerPartition');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN kafkaPartition INT NULL COMMENT ''partition of the acknowledged create message; NULL = produce not acknowledged''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'kafkaPartition');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN kafkaOffset BIGINT NULL COMMENT ''offset of the acknowledged create message''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'kafkaOffset');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD INDEX idx_open_partition (taskStatus, pollerPartition)', 'DO 0')
             FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND INDEX_NAME = 'idx_open_partition');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD INDEX idx_createTime (createTime)', 'DO 0')
             FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND INDEX_NAME = 'idx_createTime');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
